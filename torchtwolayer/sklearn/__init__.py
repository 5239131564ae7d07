r"""scikit-learn estimators over the note's network: :class:`TwoLayerClassifier`, :class:`TwoLayerRegressor`.

They train :class:`~torchtwolayer.TwoLayerNet` with the note's gradient descent and behave like
scikit-learn's own estimators (they pass ``sklearn.utils.estimator_checks``): ``fit``,
``partial_fit``, ``predict``, ``predict_proba``, ``decision_function``, ``score``, ``sample_weight``,
``warm_start``, early stopping, pickling, ``Pipeline``, ``GridSearchCV``.

Training, epoch after epoch, follows ``MLPClassifier(solver="sgd")``: shuffled mini-batches
(``batch_size="full"`` for the note's full batch), SGD with ``momentum``/``nesterov``, L2 penalty
``alpha``, ``loss_curve_``, ``tol``/``n_iter_no_change``, early stopping on a validation split.
The epochs are :mod:`torchtwolayer.core.epochs`': on the CPU the fused
:class:`~torchtwolayer.GradientDescent`, elsewhere the hand-written Function and ``torch.optim.SGD``;
both visit the same batches and give the same weights.

Modules: ``parameters`` (the hyperparameters declared once), ``base`` (training, shared),
``classifier``, ``regressor``, ``inputs`` (arrays to tensors).

scikit-learn is an optional extra: ``pip install torchtwolayer[sklearn]``.
"""

try:
    import sklearn  # noqa: F401
except ImportError as error:  # test_sklearn hides scikit-learn to check this message
    raise ImportError("torchtwolayer.sklearn needs scikit-learn: pip install torchtwolayer[sklearn]") from error

from .classifier import TwoLayerClassifier
from .regressor import TwoLayerRegressor

__all__ = ["TwoLayerClassifier", "TwoLayerRegressor"]
