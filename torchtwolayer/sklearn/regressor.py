"""TwoLayerRegressor: the note's network with the identity head, on a standardised target."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.validation import validate_data

from ..core.tasks import get_task
from .base import TwoLayerEstimator
from .inputs import SPARSE
from .parameters import document


class TwoLayerRegressor(RegressorMixin, TwoLayerEstimator):
    r"""A regressor: the note's network with the identity head and J = ½ Σ (A2 − Y)² averaged over rows.

    One output per target column (multi-output allowed). The target is standardised inside:
    ``fit`` learns each column's mean and standard deviation (weighted by ``sample_weight``),
    trains on Y = (y − ``y_mean_``) / ``y_scale_``, and ``predict`` returns
    ``y_mean_ + y_scale_ · Z2``, in y's own units. So a target in its own units (miles per gallon,
    ozone ppb, prices in the thousands) trains with the same lr as a scaled one and gets the same
    R². This differs from ``MLPRegressor``, which fits y as given: there an unscaled target needs
    ``TransformedTargetRegressor`` or a smaller learning rate. A warm start and ``partial_fit``
    keep the scaling of the call that made the network.

    {parameters}

    Training stops with a :class:`~torchtwolayer.core.divergence.DivergenceError` (a ``ValueError``
    naming lr) as soon as an epoch's cost is non-finite or above
    :func:`~torchtwolayer.core.divergence.divergence_bound` (100 × the larger of the cost before the
    call's first step and the chance cost, ½ per target); the estimator is then left as it was.

    Attributes:
        y_mean_, y_scale_: (n_targets,) the target's mean and standard deviation (1 for a constant column).
        loss_curve_, loss_, best_loss_: as :class:`TwoLayerClassifier`'s, in standardised units: J is
            ½ the mean squared error divided by the target's variance (summed over the targets),
            so about ½ (1 − R²) per target on the training rows.
        validation_scores_, best_validation_score_: with early stopping, R² on the held-out rows.
        net_, n_outputs_, n_iter_, n_features_in_, feature_names_in_: as :class:`TwoLayerClassifier`'s.

    Example:
        >>> import numpy as np
        >>> from torchtwolayer.sklearn import TwoLayerRegressor
        >>> X = np.linspace(-2, 2, 200)[:, None]
        >>> y = 1000 * np.sin(X[:, 0]) + 5000
        >>> reg = TwoLayerRegressor(hidden_size=16, batch_size=20, random_state=0).fit(X, y)
        >>> reg.net_.output, bool(reg.score(X, y) > 0.99)
        ('identity', True)
    """

    _score_function = staticmethod(r2_score)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> TwoLayerRegressor:
        """One epoch over (X, y), continuing from the fitted weights (and momentum)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _head(self) -> str:
        return "identity"

    def _chance_cost(self) -> float:
        """J of predicting the mean of a standardised target: ½ per target."""
        return self.net_.n2 * get_task("regression").chance_cost(1)

    def _validate_training_data(
        self, X: Any, y: Any, incremental: bool, first_pass: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, accept_sparse=SPARSE, multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32), reset=first_pass,
        )  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(len(y), -1).astype(np.float64), y

    def _encode_target(self, Y: np.ndarray, w: np.ndarray | None, first_pass: bool) -> np.ndarray:
        """Y standardised with the scaling of the call that made the network (learnt now if this is it)."""
        if first_pass:
            self.y_mean_ = np.average(Y, axis=0, weights=w)
            std = np.sqrt(np.average((Y - self.y_mean_) ** 2, axis=0, weights=w))
            constant = std <= 1e3 * np.finfo(np.float64).eps * np.maximum(np.abs(self.y_mean_), 1.0)
            self.y_scale_ = np.where(constant, 1.0, std)
        elif Y.shape[1] != len(self.y_mean_):
            return Y  # the caller names the mismatch of outputs
        return (Y - self.y_mean_) / self.y_scale_

    def _stratify(self, Y: np.ndarray, labels: np.ndarray) -> None:
        return None

    def _from_logits(self, Z2: np.ndarray) -> np.ndarray:
        y = (Z2 * self.y_scale_ + self.y_mean_).astype(Z2.dtype, copy=False)
        return y.ravel() if y.shape[1] == 1 else y

    def predict(self, X: Any) -> np.ndarray:
        """The predicted values in y's units: (n_samples,) for one target, (n_samples, n_targets) otherwise."""
        return self._from_logits(self._forward(self._validated_input(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


document(TwoLayerRegressor)
