"""TwoLayerClassifier: the note's network with a sigmoid (binary, multi-label) or softmax head."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import validate_data

from ..core.heads import get_head
from ..core.tasks import get_task
from .base import TwoLayerEstimator
from .inputs import SPARSE, check_label_types
from .parameters import document


class TwoLayerClassifier(ClassifierMixin, TwoLayerEstimator):
    r"""A classifier: the note's network with a sigmoid (binary, multi-label) or softmax head.

    .. math::

        Z^{[2]} = g(X W^{[1]T} + b^{[1]})\, W^{[2]T} + b^{[2]}, \qquad
        J = \frac{\sum_i w_i \mathcal{L}(A^{[2]}_i, Y_i)}{\sum_i w_i} + \text{L2}

    The target picks the head: binary → one ``sigmoid`` output; multi-class → ``softmax`` with one
    output per class; multi-label (a 2-D 0/1 indicator y) → ``sigmoid`` with one output per label.

    {parameters}

    With ``batch_size="full", momentum=0, alpha=0`` this is the note's gradient descent:
    W ← W − α dW on every row at every step.

    Training stops with a :class:`~torchtwolayer.core.divergence.DivergenceError` (a ``ValueError``
    naming lr) as soon as an epoch's cost is non-finite or above
    :func:`~torchtwolayer.core.divergence.divergence_bound` (100 × the larger of the cost before the
    call's first step and the chance cost); the estimator is then left as it was before the call.

    Attributes:
        classes_: the labels, sorted (any one type: strings, integers, booleans); for multi-label,
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
        TwoLayerNet(n0=4, n1=16, n2=3, activation='relu', output='softmax', init='xavier')
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

    def _chance_cost(self) -> float:
        """J of a network that knows nothing: log n2 (softmax), n2 log 2 (one sigmoid per label)."""
        if self.net_.output == "softmax":
            return get_task("multiclass").chance_cost(self.net_.n2)
        return self.net_.n2 * get_task("binary").chance_cost(1)

    def _validate_training_data(
        self, X: Any, y: Any, incremental: bool, first_pass: bool, classes: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X (dense or sparse); Y the targets of the head, (n, n_outputs) 0/1; and the labels as given."""
        check_label_types(y)
        X, y = validate_data(
            self, X, y, accept_sparse=SPARSE, multi_output=True, dtype=(np.float64, np.float32), reset=first_pass
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental:
            if self._first_partial_fit(classes):
                multilabel = y.ndim == 2
                self._label_binarizer = LabelBinarizer().fit(y if multilabel else self.classes_)
        elif first_pass:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        self._check_labels_known(y, exact=self.warm_start and not incremental)
        Y = self._label_binarizer.transform(y).astype(X.dtype)
        return X, Y, y

    def _first_partial_fit(self, classes: Any) -> bool:
        """Whether this is the first ``partial_fit`` call (which sets ``classes_``); checks ``classes``."""
        fitted = getattr(self, "classes_", None)
        if classes is None:
            if fitted is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            return False
        classes = unique_labels(classes)
        if fitted is None:
            self.classes_ = classes
            return True
        if not np.array_equal(fitted, classes):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to partial_fit: {fitted!r}")
        return False

    def _encode_target(self, Y: np.ndarray, w: np.ndarray | None, first_pass: bool) -> np.ndarray:
        return Y  # already the head's 0/1 targets

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


document(TwoLayerClassifier)
