r"""scikit-learn estimators over the note's network: :class:`TwoLayerClassifier`, :class:`TwoLayerRegressor`.

They train :class:`~torchtwolayer.TwoLayerNet` with the note's gradient descent and behave like
scikit-learn's own estimators (they pass ``sklearn.utils.estimator_checks``): ``fit``,
``partial_fit``, ``predict``, ``predict_proba``, ``decision_function``, ``score``, ``sample_weight``,
``warm_start``, early stopping, pickling, ``Pipeline``, ``GridSearchCV``.

The target picks the head: binary → one ``sigmoid`` output; multi-class → ``softmax`` with one
output per class; multi-label (a 2-D 0/1 indicator y) → ``sigmoid`` with one output per label;
regression → ``identity`` (one output per target column).

Training, epoch after epoch, follows ``MLPClassifier(solver="sgd")``: shuffled mini-batches
(``batch_size="full"`` for the note's full batch), SGD with ``momentum``/``nesterov``, L2 penalty
``alpha``, ``loss_curve_``, ``tol``/``n_iter_no_change``, early stopping on a validation split.
On the CPU each epoch runs on the fused :class:`~torchtwolayer.GradientDescent`; on other devices
through :meth:`TwoLayerNet.cost <torchtwolayer.TwoLayerNet.cost>` (the hand-written Function) and
``torch.optim.SGD``. Both visit the same batches (:func:`~torchtwolayer.batches.epoch_order`)
and give the same weights.

scikit-learn is an optional extra: ``pip install torchtwolayer[sklearn]``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as error:  # test_sklearn hides scikit-learn to check this message
    raise ImportError("torchtwolayer.sklearn needs scikit-learn: pip install torchtwolayer[sklearn]") from error

from .core.activations import ACTIVATIONS
from .core.batches import epoch_order
from .core.function import two_layer
from .core.gradient_descent import GradientDescent
from .core.heads import get_head
from .core.initializers import INITS
from .core.module import TwoLayerNet
from .core.threads import threads_for

__all__ = ["TwoLayerClassifier", "TwoLayerRegressor"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class _DivergedError(Exception):
    """Training produced a non-finite cost or weights."""


# ------------------------------------------------------------------------------------ epochs
class _FusedEpochs:
    """Epochs of the fused :class:`GradientDescent` (the CPU's path)."""

    def __init__(
        self, net: TwoLayerNet, X: Tensor, Y: Tensor, w: Tensor | None, *, lr: float, batch_size: int,
        seed: int, momentum: float, nesterov: bool, weight_decay: float,
    ) -> None:  # fmt: skip
        self.gd = GradientDescent(
            net, X, Y, lr, batch_size, seed, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
            sample_weight=w, check_divergence=False,
        )  # fmt: skip
        self.weight_decay = weight_decay

    @property
    def velocity(self) -> list[Tensor]:
        return self.gd.velocity

    @velocity.setter
    def velocity(self, v: list[Tensor]) -> None:
        for mine, given in zip(self.gd.velocity, v, strict=True):
            mine.copy_(given)

    def run_epoch(self) -> float:
        return self.gd.run_epochs(1)[0]


class _FunctionEpochs:
    """Epochs through the hand-written Function and ``torch.optim.SGD`` (any device).

    Each batch: J = ``net.cost(X_b, Y_b)`` (the fused cost, backward from dZ2 = A2 − Y), or with
    sample weights J = Σ w L / Σ w over the logits of ``net(X_b)``; then one SGD step with weight
    decay on W1 and W2 only. The batches are :class:`GradientDescent`'s: epoch ``e`` visits
    ``epoch_order(m, e, seed)`` in consecutive slices, the full batch takes the rows in order.
    """

    def __init__(
        self, net: TwoLayerNet, X: Tensor, Y: Tensor, w: Tensor | None, *, lr: float, batch_size: int,
        seed: int, momentum: float, nesterov: bool, weight_decay: float,
    ) -> None:  # fmt: skip
        self.net, self.X, self.Y, self.w = net, X, Y, w
        self.batch_size, self.seed, self.epoch, self.weight_decay = batch_size, seed, 0, weight_decay
        groups = [{"params": [net.W1, net.W2], "weight_decay": weight_decay}, {"params": [net.b1, net.b2]}]
        self.opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
        self.losses = get_head(net.output).losses

    @property
    def velocity(self) -> list[Tensor]:
        state = self.opt.state
        params = [self.net.W1, self.net.b1, self.net.W2, self.net.b2]
        if not all("momentum_buffer" in state[p] for p in params):
            return []
        return [state[p]["momentum_buffer"] for p in params]

    @velocity.setter
    def velocity(self, v: list[Tensor]) -> None:
        for p, vp in zip([self.net.W1, self.net.b1, self.net.W2, self.net.b2], v, strict=True):
            self.opt.state[p]["momentum_buffer"] = vp.clone()

    def run_epoch(self) -> float:
        m = self.X.shape[0]
        if self.batch_size >= m:
            batches = [None]  # the full batch, rows in order
        else:
            order = epoch_order(m, self.epoch, self.seed).to(self.X.device)
            batches = order.split(self.batch_size)
        total = torch.zeros((), dtype=torch.float64, device=self.X.device)
        for idx in batches:
            total += self._step(idx)
        self.epoch += 1
        return (total / (m if self.w is None else self.w.sum())).item()

    def _step(self, idx: Tensor | None) -> Tensor:
        """One SGD step on the rows ``idx`` (all if None); returns J times the batch's size or weight."""
        if idx is None:
            X, Y, w = self.X, self.Y, self.w
        else:
            X, Y, w = self.X[idx], self.Y[idx], None if self.w is None else self.w[idx]
        self.opt.zero_grad()
        if w is None:
            J = self.net.cost(X, Y)
            weight = X.shape[0]
        else:
            weight = w.sum()
            J = (self.losses(self.net(X), Y) * w).sum() / weight
        J.backward()
        self.opt.step()
        return J.detach() * weight


# ------------------------------------------------------------------------------ estimators
class _TwoLayerEstimator(BaseEstimator):
    """What the classifier and the regressor share: hyperparameters, training, prediction."""

    _fused_on_cpu = True  # tests set it to False to run the Function path on the CPU

    def __init__(
        self,
        hidden_size: int = 100,
        activation: str = "tanh",
        *,
        lr: float = 0.1,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        momentum: float = 0.0,
        nesterov: bool = False,
        alpha: float = 0.0,
        init: str = "xavier",
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: bool | int = False,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype | None = None,
    ) -> None:
        self.hidden_size = hidden_size
        self.activation = activation
        self.lr = lr
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.momentum = momentum
        self.nesterov = nesterov
        self.alpha = alpha
        self.init = init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _TwoLayerEstimator:
        """Train for up to ``max_iter`` epochs (from scratch unless ``warm_start``).

        Args:
            X: (n_samples, n_features) array-like or sparse matrix (densified).
            y: class labels (n_samples,), a 0/1 indicator (n_samples, n_labels) for multi-label,
                or regression targets (n_samples,) / (n_samples, n_targets).
            sample_weight: (n_samples,) non-negative weights: each batch's cost is Σ w L / Σ w.

        Returns:
            self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None) -> _TwoLayerEstimator:
        """Train, or leave the estimator as it was if training fails (a bad input, divergence)."""
        self._check_hyperparameters()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit, or early_stopping=False")
        before = self._fitted_state()
        try:
            self._train(X, y, sample_weight, incremental, classes)
        except Exception:
            self._restore(before)
            raise
        return self

    def _train(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any) -> None:
        first_pass = not hasattr(self, "net_") or (not self.warm_start and not incremental)
        X, Y, labels = self._validate_training_data(X, y, incremental, first_pass, classes)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        rng = check_random_state(self.random_state)
        init_seed, order_seed = (int(s) for s in rng.randint(2**31 - 1, size=2))  # drawn on every call, used or not
        if first_pass:
            self._initialize(X.shape[1], Y.shape[1], X.dtype, init_seed)
        elif Y.shape[1] != self.net_.n2:
            raise ValueError(
                f"y has {Y.shape[1]} output columns but the fitted network has {self.net_.n2}; "
                "fit from scratch (warm_start=False) to change the outputs"
            )
        else:
            self._start_records()
        validation = None  # (X, labels, weights) of the held-out rows
        if self.early_stopping:
            X, Y, w, validation = _split(X, Y, labels, w, self.validation_fraction, self._stratify(Y, labels), rng)
        # epoch e of the network's life (counting warm starts and partial fits) visits epoch_order(order_seed + e)
        epochs = self._epochs(X, Y, w, seed=order_seed + len(self.loss_curve_))
        if incremental and self._velocity and self.momentum:
            epochs.velocity = self._velocity
        self._run(epochs, validation, incremental)
        self._velocity = [v.clone() for v in epochs.velocity]

    def _initialize(self, n_features: int, n_outputs: int, X_dtype: np.dtype, seed: int) -> None:
        """A new network and empty training records (``MLPClassifier._initialize``'s)."""
        dtype = _DTYPES[str(X_dtype)] if self.dtype is None else _torch_dtype(self.dtype)
        self.net_ = TwoLayerNet(
            n_features, self.hidden_size, n_outputs, activation=self.activation, output=self._head(),
            init=self.init, seed=seed, device=self.device, dtype=dtype,
        )  # fmt: skip
        self.n_outputs_ = n_outputs
        self.loss_curve_: list[float] = []
        self._velocity: list[Tensor] = []
        self._no_improvement_count = 0
        self.validation_scores_: list[float] | None = None
        self.best_validation_score_: float | None = None
        self.best_loss_: float | None = np.inf
        self._start_records()

    def _start_records(self) -> None:
        """The records the stopping rule needs, also when a warm start turns early stopping on or off."""
        if self.early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            self._best_parameters = [p.detach().clone() for p in self.net_.parameters()]
        elif not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = min(self.loss_curve_, default=np.inf)

    def _epochs(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, seed: int) -> _FusedEpochs | _FunctionEpochs:
        """The trainer of this device, over the rows of positive weight (a zero weight removes a row)."""
        if w is not None:
            X, Y, w = X[w > 0], Y[w > 0], w[w > 0]
            if not len(w):
                raise ValueError("every sample_weight of the training rows is zero: give some rows a positive weight")
        net = self.net_
        B = _batch_size(self.batch_size, X.shape[0])
        mean_w = 1.0 if w is None else float(w.mean())
        sgd = {
            "lr": float(self.lr), "batch_size": B, "seed": seed, "momentum": float(self.momentum),
            "nesterov": bool(self.nesterov), "weight_decay": float(self.alpha) / (B * mean_w),
        }  # fmt: skip
        Xt, Yt = _as_tensor(X, net.W1), _as_tensor(Y, net.W1)
        wt = None if w is None else _as_tensor(w, net.W1)
        fused = net.W1.device.type == "cpu" and type(self)._fused_on_cpu
        return (_FusedEpochs if fused else _FunctionEpochs)(net, Xt, Yt, wt, **sgd)

    def _run(self, epochs: _FusedEpochs | _FunctionEpochs, validation: tuple | None, incremental: bool) -> None:
        """Epochs until ``max_iter``, or until the loss (validation score) stops improving by ``tol``."""
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                loss = _l2_term(self.net_, epochs.weight_decay) + epochs.run_epoch()
                if not math.isfinite(loss):
                    raise _DivergedError(f"the training loss became {loss} at epoch {len(self.loss_curve_) + 1}")
                self.n_iter_ += 1
                self.loss_ = loss
                self.loss_curve_.append(loss)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
                self._update_no_improvement_count(validation)
                if self._no_improvement_count > self.n_iter_no_change:
                    self._report_stop()
                    break
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=5,  # the caller of fit
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=5)
        except _DivergedError as diverged:
            raise ValueError(_divergence_message(str(diverged))) from None
        if validation is not None:
            self._load(self._best_parameters)
        if not all(torch.isfinite(p).all() for p in self.net_.parameters()):
            raise ValueError(_divergence_message("the weights became non-finite"))

    def _update_no_improvement_count(self, validation: tuple | None) -> None:
        """MLP's rule: count epochs that do not beat the best by ``tol``; keep the best weights."""
        if validation is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return
        score = self._validation_score(*validation)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_parameters = [p.detach().clone() for p in self.net_.parameters()]

    def _report_stop(self) -> None:
        if self.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs.")

    def _validation_score(self, X: np.ndarray, labels: np.ndarray, w: np.ndarray | None) -> float:
        Z2 = self._forward(X)
        if not np.isfinite(Z2).all():
            return float("nan")
        return float(self._score_function(labels, self._from_logits(Z2), sample_weight=w))

    # ---------------------------------------------------------- fitted state
    def _fitted_state(self) -> tuple[dict, list[Tensor] | None]:
        """What ``_restore`` needs to undo a failed fit: the attributes, and the weights trained in place."""
        state = {k: (list(v) if isinstance(v, list) else v) for k, v in vars(self).items()}
        net = state.get("net_")
        return state, None if net is None else [p.detach().clone() for p in net.parameters()]

    def _restore(self, before: tuple[dict, list[Tensor] | None]) -> None:
        state, weights = before
        vars(self).clear()
        vars(self).update(state)
        if weights is not None:
            self._load(weights)

    @torch.no_grad()
    def _load(self, weights: list[Tensor]) -> None:
        for p, value in zip(self.net_.parameters(), weights, strict=True):
            p.copy_(value)

    # ------------------------------------------------------------ predict
    def _forward(self, X: Any) -> np.ndarray:
        """The logits Z2 (n_samples, n_outputs), in X's floating dtype."""
        net = self.net_
        Xt = _as_tensor(X, net.W1)
        work = X.shape[0] * net.n1 * (net.n0 + net.n2)  # multiply-adds of the forward pass
        with torch.no_grad(), threads_for(work, Xt.device):
            Z2 = two_layer(Xt, net.W1, net.b1, net.W2, net.b2, net.activation)
        return Z2.cpu().numpy().astype(X.dtype, copy=False)

    def _validated_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=True, dtype=(np.float64, np.float32), reset=False)
        return _dense(X)

    # -------------------------------------------------------------- checks
    def _check_hyperparameters(self) -> None:
        """Each hyperparameter's type and range, with the value given (scikit-learn checks them at fit)."""
        _check_int("hidden_size", self.hidden_size)
        _check_choice("activation", self.activation, sorted(ACTIVATIONS))
        _check_choice("init", self.init, list(INITS))
        _check_real("lr", self.lr, low=0, low_open=True)
        _check_int("max_iter", self.max_iter)
        _check_real("tol", self.tol, low=0)
        _check_int("n_iter_no_change", self.n_iter_no_change)
        _check_real("validation_fraction", self.validation_fraction, low=0, high=1, low_open=True)
        _check_real("momentum", self.momentum, low=0, high=1)
        _check_real("alpha", self.alpha, low=0)
        for name in ("early_stopping", "nesterov", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.nesterov and not self.momentum:
            raise ValueError("nesterov=True needs momentum > 0")
        if not (self.batch_size in ("auto", "full") or (_is_int(self.batch_size) and self.batch_size >= 1)):
            raise ValueError(
                f"batch_size must be 'auto' (min(200, n_samples)), 'full' (the note's full batch) "
                f"or a positive integer, got {self.batch_size!r}"
            )
        if self.dtype is not None:
            _torch_dtype(self.dtype)
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', got {self.device!r}") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but torch.cuda.is_available() is False; use device='cpu'")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified: the network is dense
        return tags


class TwoLayerClassifier(ClassifierMixin, _TwoLayerEstimator):
    r"""A classifier: the note's network with a sigmoid (binary, multi-label) or softmax head.

    .. math::

        Z^{[2]} = g(X W^{[1]T} + b^{[1]})\, W^{[2]T} + b^{[2]}, \qquad
        J = \frac{\sum_i w_i \mathcal{L}(A^{[2]}_i, Y_i)}{\sum_i w_i} + \text{L2}

    Args:
        hidden_size: hidden units n1.
        activation: g: ``tanh`` (default, the note's), ``sigmoid``, ``relu``, ``leaky_relu``, ``identity``.
        lr: the learning rate α.
        batch_size: rows per step: ``"auto"`` = min(200, n_samples) (MLP's), ``"full"`` for the
            note's full batch, or an integer (clipped to n_samples).
        max_iter: epochs (passes over the data); a ``ConvergenceWarning`` if reached without stopping.
        tol, n_iter_no_change: stop when the training loss (the validation score with
            ``early_stopping``) has not improved by ``tol`` for more than ``n_iter_no_change``
            epochs in a row (MLP's rule).
        early_stopping: hold out ``validation_fraction`` of the rows (stratified for binary y),
            score them every epoch (accuracy), stop as above and keep the best epoch's weights.
        validation_fraction: the held-out share, in (0, 1).
        momentum, nesterov: SGD momentum (``torch.optim.SGD``'s, the same updates as MLP's ``sgd``).
        alpha: L2 penalty on W1 and W2, as MLP's: the gradient gains α W / (batch size × mean
            sample weight), that is α W / Σw on a full batch.
        init: ``xavier`` (default), ``kaiming``, ``course`` (N(0, 0.01²)), ``pytorch``.
        random_state: seeds the initial weights, the batch order and the validation split.
        warm_start: ``fit`` continues from the fitted weights.
        verbose: print the loss (and validation score) of every epoch.
        device: where the network trains and predicts (``"cpu"`` uses the fused
            :class:`~torchtwolayer.GradientDescent`; others the Function and ``torch.optim.SGD``).
        dtype: ``"float32"``, ``"float64"`` or ``None`` (X's floating dtype, float64 for most inputs).

    With ``batch_size="full", momentum=0, alpha=0`` (the last two are the defaults) this is the
    note's gradient descent: W ← W − α dW on every row at every step.

    Attributes:
        classes_: the labels, sorted (any type: strings, integers, booleans); for multi-label,
            ``arange(n_labels)``.
        n_features_in_, feature_names_in_: the inputs seen by ``fit`` (names from DataFrames).
        net_: the fitted :class:`~torchtwolayer.TwoLayerNet`.
        n_outputs_: outputs of the network (1 for binary).
        loss_curve_: the training cost of every epoch: the mean of the batches' J before their
            steps, plus the L2 term ½ λ (‖W1‖² + ‖W2‖²) at the epoch's start (λ the weight decay
            above; MLP's loss exactly on a full batch); ``loss_``: the last one.
        best_loss_: the lowest (``None`` with early stopping).
        validation_scores_, best_validation_score_: with early stopping, the accuracy on the
            held-out rows after every epoch, and the best (``None`` otherwise).
        n_iter_: epochs run by the last ``fit`` or ``partial_fit`` call.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from torchtwolayer.sklearn import TwoLayerClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = TwoLayerClassifier(hidden_size=16, batch_size=30, random_state=0).fit(X, y)
        >>> clf.net_
        TwoLayerNet(n0=4, n1=16, n2=3, activation='tanh', output='softmax', init='xavier')
        >>> clf.predict_proba(X[:2]).shape, bool(clf.score(X, y) > 0.9)
        ((2, 3), True)
    """

    _score_function = staticmethod(accuracy_score)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> TwoLayerClassifier:
        """One epoch over (X, y), continuing from the fitted weights (and momentum).

        Args:
            classes: every label the calls will see; required on the first call.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _head(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _validate_training_data(
        self, X: Any, y: Any, incremental: bool, first_pass: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X dense; Y the targets of the head, (n, n_outputs) 0/1; and the labels as given."""
        X, y = validate_data(
            self, X, y, accept_sparse=True, multi_output=True, dtype=(np.float64, np.float32), reset=first_pass
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental:
            if _check_partial_fit_first_call(self, classes):
                multilabel = y.ndim == 2
                self._label_binarizer = LabelBinarizer().fit(y if multilabel else self.classes_)
        elif first_pass:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        self._check_labels_known(y, exact=self.warm_start and not incremental)
        Y = self._label_binarizer.transform(y).astype(X.dtype)
        return _dense(X), Y, y

    def _check_labels_known(self, y: np.ndarray, exact: bool) -> None:
        if y.ndim == 2:  # multi-label: the indicator's width is checked against the network
            return
        labels = unique_labels(y)
        if exact and set(labels) != set(self.classes_):
            raise ValueError(
                f"warm_start can only be used where y has the same classes as in the previous call to "
                f"fit. Previously got {self.classes_}, y has {labels}"
            )
        if not np.isin(labels, self.classes_).all():
            raise ValueError(f"y has classes not in self.classes_ = {self.classes_}: y has {labels}")

    def _stratify(self, Y: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
        return labels if Y.shape[1] == 1 else None  # MLP's: binary targets only

    def _from_logits(self, Z2: np.ndarray) -> np.ndarray:
        if self.net_.output == "sigmoid":
            Z2 = (Z2 > 0).astype(Z2.dtype)  # σ(Z2) > 1/2
        return self._label_binarizer.inverse_transform(Z2)

    def predict(self, X: Any) -> np.ndarray:
        """The labels: (n_samples,) from ``classes_``, or a (n_samples, n_labels) 0/1 indicator."""
        return self._from_logits(self._forward(self._validated_input(X)))

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits Z2: (n_samples,) for binary y, (n_samples, n_classes or n_labels) otherwise."""
        Z2 = self._forward(self._validated_input(X))
        return Z2.ravel() if Z2.shape[1] == 1 else Z2

    def predict_proba(self, X: Any) -> np.ndarray:
        """A2, columns in the order of ``classes_``: binary (n, 2) = [1 − σ(Z2), σ(Z2)];
        multi-class softmax (n, n_classes); multi-label σ(Z2) (n, n_labels)."""
        Z2 = self._forward(self._validated_input(X))
        A2 = get_head(self.net_.output).link(torch.from_numpy(Z2)).numpy()
        if self.net_.output == "softmax" or self._label_binarizer.y_type_.startswith("multilabel"):
            return A2
        if len(self.classes_) == 1:
            return np.ones_like(A2)
        return np.hstack([1 - A2, A2])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log of :meth:`predict_proba`."""
        P = self.predict_proba(X)
        return np.log(P, out=P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class TwoLayerRegressor(RegressorMixin, _TwoLayerEstimator):
    r"""A regressor: the note's network with the identity head and J = ½ Σ (A2 − Y)² averaged over rows.

    One output per target column (multi-output allowed). The hyperparameters, the training and the
    attributes are :class:`TwoLayerClassifier`'s (early stopping scores R²). SGD does not rescale y:
    standardise targets far from unit scale (``TransformedTargetRegressor``), or lower ``lr``.

    Example:
        >>> import numpy as np
        >>> from torchtwolayer.sklearn import TwoLayerRegressor
        >>> X = np.linspace(-2, 2, 200)[:, None]
        >>> reg = TwoLayerRegressor(hidden_size=16, batch_size=20, random_state=0).fit(X, np.sin(X[:, 0]))
        >>> reg.net_.output, bool(reg.score(X, np.sin(X[:, 0])) > 0.99)
        ('identity', True)
    """

    _score_function = staticmethod(r2_score)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> TwoLayerRegressor:
        """One epoch over (X, y), continuing from the fitted weights (and momentum)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _head(self) -> str:
        return "identity"

    def _validate_training_data(
        self, X: Any, y: Any, incremental: bool, first_pass: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, accept_sparse=True, multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32), reset=first_pass,
        )  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = y.reshape(len(y), -1).astype(X.dtype)
        return _dense(X), Y, y

    def _stratify(self, Y: np.ndarray, labels: np.ndarray) -> None:
        return None

    def _from_logits(self, Z2: np.ndarray) -> np.ndarray:
        return Z2.ravel() if Z2.shape[1] == 1 else Z2

    def predict(self, X: Any) -> np.ndarray:
        """The predicted values: (n_samples,) for one target, (n_samples, n_targets) otherwise."""
        return self._from_logits(self._forward(self._validated_input(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# -------------------------------------------------------------------------------- helpers
def _split(
    X: np.ndarray, Y: np.ndarray, labels: np.ndarray, w: np.ndarray | None, fraction: float,
    stratify: np.ndarray | None, rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple]:  # fmt: skip
    """The training rows, and the validation rows as (X, labels, weights), MLP's way."""
    arrays = [X, Y, labels] + ([] if w is None else [w])
    parts = train_test_split(*arrays, test_size=fraction, random_state=rng, stratify=stratify)
    train, val = parts[0::2], parts[1::2]
    if val[0].shape[0] < 2:
        raise ValueError(
            "The validation set is too small (fewer than 2 rows). Increase 'validation_fraction' "
            "or the size of your dataset."
        )
    w_train, w_val = (None, None) if w is None else (train[3], val[3])
    return train[0], train[1], w_train, (val[0], val[2], w_val)


@torch.no_grad()
def _l2_term(net: TwoLayerNet, weight_decay: float) -> float:
    """½ λ (‖W1‖² + ‖W2‖²), the penalty whose gradient λ W the steps add (MLP's L2 term on a full batch)."""
    if not weight_decay:
        return 0.0
    return 0.5 * weight_decay * (net.W1.square().sum() + net.W2.square().sum()).item()


def _batch_size(batch_size: int | str, m: int) -> int:
    if batch_size == "full":
        return m
    if batch_size == "auto":
        return min(200, m)
    return min(int(batch_size), m)


def _as_tensor(a: np.ndarray, like: Tensor) -> Tensor:
    """``a`` as a tensor of ``like``'s dtype and device (a copy when the array is read-only)."""
    a = np.asarray(a)
    if not a.flags.writeable:
        a = a.copy()
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


def _dense(X: Any) -> np.ndarray:
    return X.toarray() if hasattr(X, "toarray") else X


def _torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if dtype in _DTYPES.values():
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be 'float32', 'float64' or None (X's dtype), got {dtype!r}")
    return _DTYPES[dtype]


def _divergence_message(what: str) -> str:
    return (
        f"Training diverged: {what}. Lower lr, scale the inputs (StandardScaler) and, for regression, "
        "the targets (TransformedTargetRegressor); the estimator keeps its state from before this call."
    )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_int(name: str, value: object) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_real(name: str, value: object, low: float, high: float = math.inf, low_open: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high)
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a finite number in {bracket}{low}, {high}), got {value!r}")


def _check_choice(name: str, value: object, choices: list[str]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
