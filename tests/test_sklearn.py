"""The scikit-learn estimators: scikit-learn's own estimator checks, the same weights as
MLPClassifier/MLPRegressor, and the tools users reach for (Pipeline, GridSearchCV, pickle)."""

import importlib
import inspect
import pickle
import re
import sys
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (
    load_diabetes,
    load_wine,
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchtwolayer.core.divergence import DivergenceError, has_diverged
from torchtwolayer.sklearn import TwoLayerClassifier, TwoLayerRegressor
from torchtwolayer.sklearn.parameters import DEFAULTS, PARAMETERS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Settings for scikit-learn's checks: full batch (fitting with integer sample weights must equal
# fitting on repeated rows, which only the full batch keeps exactly), few small epochs (speed), and
# tanh: the checks feed unscaled X (features around 100 in check_n_features_in), on which the default
# relu's SGD steps diverge (fit raises DivergenceError); the bounded tanh takes them.
CHECKED = [
    TwoLayerClassifier(hidden_size=8, activation="tanh", lr=0.5, batch_size="full", max_iter=50),
    TwoLayerRegressor(hidden_size=8, activation="tanh", lr=0.1, batch_size="full", max_iter=50),
]


# None is skipped or expected to fail. (scikit-learn 1.6+ takes expected failures, with their
# reasons, as parametrize_with_checks(expected_failed_checks=...); its tags no longer hold them.)
@parametrize_with_checks(CHECKED)
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    # scikit-learn skips its array-API check (NumPy namespace) unless this is set
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# ------------------------------------------------------------------ same weights as MLP
def binary_data(m=60, n=5):
    return make_classification(m, n, n_informative=3, random_state=0)


def same_start(ours, mlp, X, y):
    """Fit MLP one epoch (to build it), then give it the weights of ``ours`` (fitted): W1 is MLP's coefs_[0]ᵀ."""
    mlp.fit(X, y)
    net = ours.net_
    mlp.coefs_ = [net.W1.detach().numpy().T.copy(), net.W2.detach().numpy().T.copy()]
    mlp.intercepts_ = [net.b1.detach().numpy().copy(), net.b2.detach().numpy().copy()]


def problems():
    X, y = binary_data()
    X3, y3 = make_classification(60, 5, n_informative=3, n_classes=3, random_state=1)
    XL, YL = make_multilabel_classification(60, 5, n_classes=3, random_state=0)
    Xr, yr = make_regression(60, 5, n_targets=1, noise=1.0, random_state=0)
    Xr2, yr2 = make_regression(60, 5, n_targets=2, noise=1.0, random_state=0)
    return {
        "binary": (TwoLayerClassifier, MLPClassifier, X, y),
        "multiclass": (TwoLayerClassifier, MLPClassifier, X3, y3),
        "multilabel": (TwoLayerClassifier, MLPClassifier, StandardScaler().fit_transform(XL), YL),
        "regression": (TwoLayerRegressor, MLPRegressor, Xr, yr / 100),
        "two targets": (TwoLayerRegressor, MLPRegressor, Xr2, yr2 / 100),
    }


@pytest.mark.parametrize("sgd", [{}, {"momentum": 0.9, "nesterov": True, "alpha": 1e-2}], ids=["plain", "momentum"])
@pytest.mark.parametrize("problem", ["binary", "multiclass", "multilabel", "regression", "two targets"])
def test_50_full_batch_epochs_give_mlps_weights(problem, sgd):
    ours_cls, mlp_cls, X, y = problems()[problem]
    lr = 0.3
    momentum, nesterov, alpha = sgd.get("momentum", 0.0), sgd.get("nesterov", False), sgd.get("alpha", 0.0)
    ours = ours_cls(6, "tanh", lr=lr, batch_size="full", momentum=momentum, nesterov=nesterov, alpha=alpha,
                    max_iter=1, tol=0.0, warm_start=True, random_state=0, dtype="float64")  # fmt: skip
    mlp = mlp_cls(hidden_layer_sizes=(6,), activation="tanh", solver="sgd", learning_rate_init=lr, momentum=momentum,
                  nesterovs_momentum=nesterov, alpha=alpha, batch_size=len(X), max_iter=1, tol=0.0,
                  n_iter_no_change=1000, warm_start=True, random_state=0)  # fmt: skip
    if ours_cls is TwoLayerRegressor:  # ours trains on the standardised target: so does MLP here
        mean, std = y.mean(0), y.std(0)
        target, unscale = (y - mean) / std, lambda p: p * std + mean
    else:
        target, unscale = y, lambda p: p
    ours.fit(X, y)
    same_start(ours, mlp, X, target)
    ours.set_params(max_iter=50).fit(X, y)
    mlp.set_params(max_iter=50).fit(X, target)
    net = ours.net_
    for theirs, mine in zip([*mlp.coefs_, *mlp.intercepts_], [net.W1.T, net.W2.T, net.b1, net.b2], strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), theirs, rtol=0, atol=1e-6)
    assert ours.n_iter_ == mlp.n_iter_ == 50
    if problem != "two targets":  # MLP's squared loss also averages over the targets; ours sums them
        np.testing.assert_allclose(ours.loss_curve_[1:], mlp.loss_curve_[1:], rtol=1e-10)  # [0]: the first start
    np.testing.assert_allclose(ours.predict(X), unscale(mlp.predict(X)), rtol=0, atol=1e-9)


# -------------------------------------------------------------- the two training paths
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_the_function_path_gives_the_fused_paths_weights(estimator, weighted, monkeypatch):
    """On the CPU training runs on GradientDescent; elsewhere on the Function and torch.optim.SGD.
    Forced onto the CPU, the Function path gives the same weights from the same batches."""
    X, y = make_classification(90, 4, n_informative=3, n_redundant=1, n_classes=3, random_state=0)
    cls = TwoLayerClassifier if estimator == "classifier" else TwoLayerRegressor
    y = y if estimator == "classifier" else X @ [1.0, -2.0, 0.5, 0.0]
    w = np.random.default_rng(0).uniform(0, 2, len(y)) if weighted else None
    params = dict(hidden_size=5, lr=0.05, batch_size=32, momentum=0.9, nesterov=True, alpha=1e-3, max_iter=12,
                  tol=0.0, random_state=0, dtype="float64")  # fmt: skip
    fused = cls(**params).fit(X, y, sample_weight=w)
    monkeypatch.setattr(cls, "_fused_on_cpu", False)
    function = cls(**params).fit(X, y, sample_weight=w)
    for p, q in zip(fused.net_.parameters(), function.net_.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fused.loss_curve_, function.loss_curve_, rtol=1e-10)


def test_seeded_runs_repeat_and_seeds_matter():
    X, y = binary_data(120)
    params = dict(hidden_size=6, batch_size=16, momentum=0.5, max_iter=5)
    a, b = (TwoLayerClassifier(**params, random_state=1).fit(X, y) for _ in range(2))
    c = TwoLayerClassifier(**params, random_state=2).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    assert torch.equal(a.net_.W1, b.net_.W1)
    assert not torch.equal(a.net_.W1, c.net_.W1)


# ------------------------------------------------------------------ targets and labels
def test_string_labels_round_trip_and_columns_follow_classes():
    X, y = make_classification(80, 4, n_informative=3, n_redundant=1, n_classes=3, random_state=0)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    clf = TwoLayerClassifier(hidden_size=8, batch_size="full", lr=0.5, max_iter=100, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.net_.output == "softmax" and clf.net_.n2 == 3
    P = clf.predict_proba(X)
    assert P.shape == (80, 3) and np.allclose(P.sum(1), 1)
    assert (clf.predict(X) == clf.classes_[P.argmax(1)]).all()
    np.testing.assert_array_equal(clf.decision_function(X).argmax(1), P.argmax(1))
    assert clf.score(X, names) > 0.8


def test_binary_labels_use_one_sigmoid_output():
    X, y = binary_data()
    labels = np.where(y == 1, "yes", "no")
    clf = TwoLayerClassifier(hidden_size=4, batch_size="full", lr=0.5, max_iter=50, random_state=0).fit(X, labels)
    assert clf.net_.output == "sigmoid" and clf.net_.n2 == 1
    Z2 = clf.decision_function(X)  # the logits, (n,)
    assert Z2.shape == (60,)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-Z2)), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), np.where(Z2 > 0, "yes", "no"))
    booleans = TwoLayerClassifier(hidden_size=4, max_iter=3, random_state=0).fit(X, y.astype(bool))
    assert booleans.classes_.dtype == bool and booleans.predict(X).dtype == bool


def test_multilabel_indicator_goes_to_one_sigmoid_per_label():
    X, Y = make_multilabel_classification(80, 5, n_classes=4, random_state=0)
    clf = TwoLayerClassifier(hidden_size=16, batch_size="full", lr=0.5, max_iter=200, random_state=0)
    clf.fit(StandardScaler().fit_transform(X), Y)
    assert clf.net_.output == "sigmoid" and clf.net_.n2 == 4
    X = StandardScaler().fit_transform(X)
    assert clf.predict(X).shape == Y.shape and set(np.unique(clf.predict(X))) <= {0, 1}
    assert clf.predict_proba(X).shape == Y.shape and clf.decision_function(X).shape == Y.shape
    assert (clf.predict(X) == Y).mean() > 0.8


def test_multi_output_regression_uses_one_identity_output_per_target():
    X, Y = make_regression(100, 4, n_targets=3, noise=0.1, random_state=0)
    reg = TwoLayerRegressor(hidden_size=16, batch_size="full", lr=0.1, max_iter=300, random_state=0).fit(X, Y / 100)
    assert reg.net_.output == "identity" and reg.net_.n2 == 3
    assert reg.predict(X).shape == (100, 3)
    assert reg.score(X, Y / 100) > 0.95


def test_classifier_refuses_continuous_targets_and_unknown_labels():
    X, y = binary_data()
    with pytest.raises(ValueError, match="Unknown label type"):
        TwoLayerClassifier().fit(X, y + 0.5)
    clf = TwoLayerClassifier(max_iter=1).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 1)


# ------------------------------------------------------------------------- weights
def test_integer_weights_equal_repeated_rows_on_a_full_batch():
    X, y = binary_data()
    w = np.random.default_rng(0).integers(0, 4, len(y))
    params = dict(hidden_size=5, batch_size="full", lr=0.5, alpha=1e-3, max_iter=30, random_state=0)
    weighted = TwoLayerClassifier(**params).fit(X, y, sample_weight=w)
    repeated = TwoLayerClassifier(**params).fit(X.repeat(w, axis=0), y.repeat(w))
    np.testing.assert_allclose(weighted.decision_function(X), repeated.decision_function(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)


def test_zero_weights_remove_rows_also_in_mini_batches():
    X, y = binary_data(100)
    w = (np.arange(100) % 3 > 0).astype(float)  # a batch of zero weights would have no 1/Σw
    params = dict(hidden_size=5, batch_size=8, momentum=0.9, max_iter=10, random_state=0)
    weighted = TwoLayerClassifier(**params).fit(X, y, sample_weight=w)
    removed = TwoLayerClassifier(**params).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(weighted.decision_function(X), removed.decision_function(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [TwoLayerClassifier, TwoLayerRegressor])
def test_bad_sample_weights_are_refused(cls):
    X, y = binary_data()
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        cls().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="zero"):
        cls().fit(X, y, sample_weight=np.zeros(len(y)))  # before the regressor's weighted mean of y: no 0/0


# ------------------------------------------------------------ incremental and warm start
def test_partial_fit_needs_classes_first_then_runs_one_epoch_per_call():
    X, y = binary_data(90)
    clf = TwoLayerClassifier(hidden_size=5, batch_size=30, momentum=0.9, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "net_")  # nothing half-made was left behind
    for _ in range(3):
        clf.partial_fit(X[:60], y[:60], classes=np.array([0, 1]))
    clf.partial_fit(X[60:], y[60:])
    with pytest.raises(ValueError, match=r"classes=array\(\[0, 1, 2\]\) is not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 4
    assert len(clf._velocity) == 4  # momentum carries over from call to call, as MLP's optimizer does
    clf.set_params(momentum=0.0).partial_fit(X, y)  # and a call without momentum drops it
    assert clf._velocity == []
    with pytest.raises(ValueError, match="early_stopping"):
        clone(clf).set_params(early_stopping=True).partial_fit(X, y, classes=[0, 1])


def test_warm_start_continues_where_the_last_fit_stopped():
    X, y = binary_data(90)
    params = dict(hidden_size=5, batch_size=16, tol=0.0, random_state=0)
    straight = TwoLayerClassifier(**params, max_iter=10).fit(X, y)
    warm = TwoLayerClassifier(**params, max_iter=4, warm_start=True).fit(X, y)
    warm.set_params(max_iter=6).fit(X, y)  # epochs 5..10 see the batches the straight run saw
    assert warm.n_iter_ == 6 and len(warm.loss_curve_) == 10
    np.testing.assert_allclose(warm.loss_curve_, straight.loss_curve_, rtol=1e-12)
    torch.testing.assert_close(warm.net_.W1, straight.net_.W1, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="same classes"):
        warm.fit(X, np.where(y == 1, 2, 0))
    cold = TwoLayerClassifier(**params, max_iter=4).fit(X, y)
    before = cold.net_
    cold.fit(X, y)
    assert cold.net_ is not before  # without warm_start, fit starts again


def test_early_stopping_scores_a_held_out_split_and_keeps_the_best_epoch():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_size=8, batch_size=16, lr=0.3, early_stopping=True, n_iter_no_change=3, random_state=0)
    clf = TwoLayerClassifier(**params, max_iter=200).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ < 200 and clf.best_loss_ is None
    best = int(np.argmax(scores))
    assert clf.best_validation_score_ == scores[best] and clf.n_iter_ == best + 1 + 4  # 4 epochs without gain
    shorter = TwoLayerClassifier(**params, max_iter=best + 1).fit(X, y)  # the same split and batches
    torch.testing.assert_close(clf.net_.W1, shorter.net_.W1, rtol=0, atol=0)
    assert TwoLayerClassifier(max_iter=2).fit(X, y).validation_scores_ is None
    with pytest.raises(ValueError, match="validation set is too small"):
        TwoLayerClassifier(early_stopping=True, validation_fraction=0.01).fit(X[:50], y[:50])


def test_convergence_warning_only_when_max_iter_stops_training():
    X, y = binary_data()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        TwoLayerClassifier(max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = TwoLayerClassifier(max_iter=500, tol=1e-2, n_iter_no_change=2, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500


def test_verbose_prints_every_epoch(capsys):
    X, y = binary_data()
    TwoLayerClassifier(max_iter=2, verbose=True).fit(X, y)
    assert capsys.readouterr().out.count("Iteration") == 2


# -------------------------------------------------------------------------- the tools
def test_pipeline_with_a_column_transformer_on_a_dataframe():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(size=120), "colour": rng.choice(["red", "green", "blue"], 120)})
    y = np.where((frame["colour"] == "red") ^ (frame["size"] > 0), "A", "B")
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["size"]), ("cat", OneHotEncoder(), ["colour"])], sparse_threshold=1.0
    )  # a sparse matrix out: the classifier densifies it
    model = make_pipeline(prep, TwoLayerClassifier(hidden_size=8, lr=0.3, max_iter=300, random_state=0))
    model.fit(frame, y)
    assert model.score(frame, y) > 0.9
    clf = TwoLayerClassifier(max_iter=2).fit(frame[["size"]], y)
    assert list(clf.feature_names_in_) == ["size"] and clf.n_features_in_ == 1


def test_grid_search_in_two_processes_with_a_scaler_and_clone():
    # Its cost is the two loky workers' start (each imports torch and scikit-learn: ~5 s of CPU), not the
    # four fits (a few ms each): a smaller grid would save nothing, one process would not prove pickling.
    X, y = binary_data(80)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), TwoLayerClassifier(lr=0.5, max_iter=50, random_state=0)),
        {"twolayerclassifier__hidden_size": [2, 8]}, cv=2, n_jobs=2,
    )  # fmt: skip
    search.fit(X, y)
    assert search.best_params_["twolayerclassifier__hidden_size"] in (2, 8)
    assert search.best_estimator_.score(X, y) > 0.8
    est = TwoLayerRegressor(hidden_size=3, dtype="float32", device="cpu")
    assert clone(est).get_params() == est.get_params()


def test_pickle_and_joblib_round_trips_predict_the_same(tmp_path):
    X, y = binary_data()
    clf = TwoLayerClassifier(hidden_size=4, max_iter=5, random_state=0).fit(X, y)
    clf.predict(X)  # the network has seen tensors: its check cache holds weak references
    loaded = pickle.loads(pickle.dumps(clf))
    joblib.dump(clf, tmp_path / "clf.joblib")
    for other in (loaded, joblib.load(tmp_path / "clf.joblib")):
        np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
        other.partial_fit(X, y)  # still trainable


# ----------------------------------------------------------------- device, dtype, errors
def test_dtype_picks_the_network_precision_and_outputs_follow_x():
    X, y = binary_data()
    assert TwoLayerClassifier(max_iter=1).fit(X, y).net_.W1.dtype == torch.float64  # X's
    assert TwoLayerClassifier(max_iter=1).fit(X.astype(np.float32), y).net_.W1.dtype == torch.float32
    clf = TwoLayerClassifier(max_iter=1, dtype="float32").fit(X, y)
    assert clf.net_.W1.dtype == torch.float32 and clf.predict_proba(X).dtype == np.float64
    assert TwoLayerRegressor(max_iter=1, dtype=torch.float64).fit(X, y * 1.0).net_.W1.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_matches_the_cpu():
    X, y = binary_data()
    params = dict(hidden_size=5, batch_size=16, momentum=0.9, max_iter=10, random_state=0, dtype="float64")
    cpu = TwoLayerClassifier(**params).fit(X, y)
    gpu = TwoLayerClassifier(**params, device="cuda").fit(X, y)
    assert gpu.net_.W1.is_cuda
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hidden_size": 0}, "hidden_size must be a positive integer"),
        ({"activation": "swish"}, "activation must be one of"),
        ({"lr": 0}, "lr must be a finite number in \\(0"),
        ({"batch_size": "half"}, "batch_size must be 'auto'"),
        ({"momentum": 1.0}, "momentum must be a finite number in \\[0, 1\\)"),
        ({"nesterov": True}, "nesterov=True needs momentum"),
        ({"alpha": -1}, "alpha must be"),
        ({"init": "zeros"}, "init must be one of"),
        ({"dtype": "float16"}, "dtype must be 'float32', 'float64' or None"),
        ({"device": "nowhere"}, "device must name a torch device"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
    ],
)
def test_bad_hyperparameters_are_named_at_fit(params, message):
    X, y = binary_data()
    with pytest.raises(ValueError, match=message):
        TwoLayerClassifier(**params).fit(X, y)


def test_a_huge_lr_stops_with_a_divergence_error_naming_lr():
    """lr=1e12 once returned predictions of 1e165 silently: now the cost passes the bound
    (100 × max(first cost, chance cost)) and fit raises, leaving no fitted network behind."""
    X, y = binary_data()
    clf = TwoLayerClassifier(hidden_size=4, lr=1e12, max_iter=5, random_state=0)
    with pytest.raises(DivergenceError, match=r"training diverged at epoch \d.*lr=1e\+12.*try lr 1e\+11") as caught:
        clf.fit(X, y)
    assert isinstance(caught.value, ValueError)
    cost, bound = (float(v) for v in re.search(r"J is (\S+) \(the limit is ([^)]+)\)", str(caught.value)).groups())
    assert has_diverged(cost, bound) and bound == pytest.approx(100 * np.log(2), rel=0.5)  # the chance cost's scale
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_a_diverging_regression_keeps_the_state_from_before_the_call():
    X, y = make_regression(50, 3, random_state=0)
    reg = TwoLayerRegressor(hidden_size=4, max_iter=5, warm_start=True, random_state=0).fit(X, y)
    W1, curve, prediction = reg.net_.W1.detach().clone(), list(reg.loss_curve_), reg.predict(X)
    with pytest.raises(DivergenceError, match=r"training diverged.*lr=30.*keeps its state"):
        reg.set_params(lr=30.0, batch_size=1).fit(X, y)
    assert torch.equal(reg.net_.W1, W1) and reg.loss_curve_ == curve
    np.testing.assert_array_equal(reg.predict(X), prediction)


def test_the_parameters_are_declared_once():
    """The table gives the signature's names and defaults, and each docstring's Args entry."""
    for cls in (TwoLayerClassifier, TwoLayerRegressor):
        assert cls().get_params() == vars(DEFAULTS)
        assert list(inspect.signature(cls).parameters) == list(PARAMETERS)
        for name, parameter in PARAMETERS.items():
            default = re.escape(repr(parameter.default))
            assert re.search(rf"\n        {name}: .*?Default:\s+``{default}``", cls.__doc__, re.S), name
        assert "{parameters}" not in cls.__doc__
    chosen = {"activation": "relu", "lr": 0.1, "batch_size": "auto", "max_iter": 200, "momentum": 0.0}
    assert {k: getattr(DEFAULTS, k) for k in chosen} == chosen  # scripts/sklearn_defaults.py's measured choice


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["a", 1, 2.5], dtype=object),
        ["a", 1, 2.5],  # a list: numpy would turn the numbers into the text "1" and "2.5"
        pytest.param("series", id="pandas"),
    ],
)
def test_labels_mixing_text_and_numbers_are_refused_with_their_types(labels):
    if isinstance(labels, str):
        labels = pytest.importorskip("pandas").Series(["a", 1, 2.5])
    with pytest.raises(TypeError, match=r"y mixes text and non-text class labels \(str 'a', int 1\)"):
        TwoLayerClassifier(max_iter=1).fit(np.eye(3), labels)


def test_warm_start_with_a_new_hidden_size_starts_from_scratch():
    X, y = binary_data()
    clf = TwoLayerClassifier(hidden_size=4, max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(hidden_size=6, max_iter=5).fit(X, y)
    fresh = TwoLayerClassifier(hidden_size=6, max_iter=5, random_state=0).fit(X, y)
    assert clf.net_.n1 == 6 and len(clf.loss_curve_) == clf.n_iter_ == 5
    torch.testing.assert_close(clf.net_.W1, fresh.net_.W1, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"partial_fit continues the fitted network \(hidden_size=6.*call fit"):
        clf.set_params(hidden_size=8).partial_fit(X, y)
    assert clf.net_.n1 == 6


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)  # the target: disease progression, 25 to 346
    return train_test_split(X, y, test_size=0.25, random_state=0)


def test_a_target_in_its_own_units_scores_as_a_scaled_one(diabetes):
    """y and 1000 y + 5000 standardise to the same Y up to float64 rounding (a few 1e-15 relative,
    the offset 5000 costing 5000 / (1000 · std y) ≈ 0.07 of a unit in the last place), so both
    train the same weights to within rounding amplified over 40 short epochs: 1e-9 leaves
    six orders of magnitude of room. Before, R² was −1e25 on targets like these."""
    X_train, X_test, y_train, y_test = diabetes
    make = lambda: make_pipeline(StandardScaler(), TwoLayerRegressor(16, max_iter=40, random_state=0))  # noqa: E731
    plain, scaled = make().fit(X_train, y_train), make().fit(X_train, 1000 * y_train + 5000)
    r2 = plain.score(X_test, y_test)
    assert r2 == pytest.approx(scaled.score(X_test, 1000 * y_test + 5000), abs=1e-9)
    assert r2 > 0.3  # MLPRegressor(hidden_layer_sizes=(16,)) here: R² −3.9 (y as given, 200 Adam epochs)
    np.testing.assert_allclose(scaled.predict(X_test), 1000 * plain.predict(X_test) + 5000, rtol=1e-9)
    reg = plain[-1]
    assert reg.y_mean_ == pytest.approx(y_train.mean()) and reg.y_scale_ == pytest.approx(y_train.std())
    np.testing.assert_allclose(scaled[-1].loss_curve_, reg.loss_curve_, rtol=1e-9)  # standardised units
    assert reg.loss_curve_[-1] == pytest.approx(0.5 * (1 - reg.score(StandardScaler().fit_transform(X_train), y_train)),
                                                rel=0.2)  # fmt: skip


def test_the_target_scaling_is_the_first_calls_and_weighted():
    X, y = make_regression(60, 3, random_state=0)
    w = np.random.default_rng(0).uniform(0, 2, 60)
    reg = TwoLayerRegressor(hidden_size=4, random_state=0).partial_fit(X[:30], y[:30], sample_weight=w[:30])
    mean = np.average(y[:30], weights=w[:30])
    assert reg.y_mean_ == pytest.approx([mean]) and reg.y_scale_ == pytest.approx(
        [np.sqrt(np.average((y[:30] - mean) ** 2, weights=w[:30]))]
    )
    reg.partial_fit(X[30:], y[30:] + 100)  # the network's Y keeps the first call's units
    assert reg.y_mean_ == pytest.approx([mean])
    X = StandardScaler().fit_transform(X)
    constant = TwoLayerRegressor(hidden_size=4, max_iter=30, random_state=0).fit(X, np.full((60, 2), 7.0))
    np.testing.assert_array_equal(constant.y_scale_, [1.0, 1.0])  # not 0: Y = 0, predictions near 7
    np.testing.assert_allclose(constant.predict(X), 7.0, atol=0.5)  # 30 steps pull Z2 to 0 from its random start


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sparse_input_is_densified_once(early_stopping):
    """numpy's allocations (tracemalloc sees them) while fitting a 30 × 30 000 sparse X: one dense
    X (7.2 MB) and small change, not a copy per step of the way. (Torch's own allocations, the
    network's, are not traced; scripts/sklearn_sparse_memory.py measures the whole process.)"""
    rng = np.random.default_rng(0)
    X = sparse.random(30, 30_000, density=3e-4, format="coo", random_state=0)  # coo: converted to csr once
    y = np.arange(30) % 2
    dense_bytes = 30 * 30_000 * 8
    clf = TwoLayerClassifier(hidden_size=2, max_iter=2, early_stopping=early_stopping, validation_fraction=0.2,
                             random_state=0)  # fmt: skip
    tracemalloc.start()
    try:
        clf.fit(X, y, sample_weight=rng.uniform(0.5, 1, 30))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert dense_bytes <= peak < 1.3 * dense_bytes
    np.testing.assert_array_equal(clf.predict(X), clf.predict(X.toarray()))


def test_a_missing_scikit_learn_names_the_extra(monkeypatch):
    """Without scikit-learn, ``import torchtwolayer`` works and this module says what to install."""
    saved = dict(sys.modules)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # "import sklearn" now fails
    for name in [n for n in sys.modules if n == "torchtwolayer" or n.startswith(("torchtwolayer.", "sklearn."))]:
        monkeypatch.delitem(sys.modules, name)
    try:
        importlib.import_module("torchtwolayer")  # fresh: proves the package needs no scikit-learn
        with pytest.raises(ImportError, match=r"pip install torchtwolayer\[sklearn\]"):
            importlib.import_module("torchtwolayer.sklearn")
    finally:
        for name in [n for n in sys.modules if n not in saved]:
            del sys.modules[name]


# --------------------------------------------------------------------------- accuracy
def test_wine_accuracy_with_only_hidden_size_set_is_within_a_point_of_mlp():
    """5-fold accuracy of StandardScaler + TwoLayerClassifier(hidden_size=32) against MLPClassifier((32,)),
    both with their defaults otherwise, float64 (scripts/sklearn_defaults.py adds iris, breast cancer and a
    make_classification table, over three seeds). Measured: ours 0.9775, MLP's 0.9832 (one sample of 178
    is 0.56 points of the mean). What differs between CPUs is float64 rounding, which after 200 epochs
    moves the logits by far less than 1e-6 (the two training paths, summing in other orders, agree to
    1e-10): it would flip a prediction only for a sample that close to a class boundary."""
    X, y = load_wine(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(make_pipeline(StandardScaler(), TwoLayerClassifier(32, random_state=0)), X, y, cv=cv)
    mlp = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier((32,), random_state=0)), X, y, cv=cv)
    assert ours.mean() >= mlp.mean() - 0.01, (ours.mean(), mlp.mean())
