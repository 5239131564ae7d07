"""What the classifier and the regressor share: the hyperparameters, the training epochs and their
stopping rules (``MLPClassifier``'s), divergence, the fitted state and the forward pass."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import Tensor

from ..core.divergence import DivergenceError, divergence_bound, divergence_message, has_diverged
from ..core.epochs import Epochs, make_epochs
from ..core.function import two_layer
from ..core.module import TwoLayerNet
from ..core.threads import threads_for
from .inputs import SPARSE, as_tensor, dense, sample_weights, some_weight
from .parameters import DEFAULTS, DTYPES, PARAMETERS, check_parameters, torch_dtype

KEPT = "The estimator keeps its state from before this call (scale the inputs with StandardScaler, or lower lr)."


class TwoLayerEstimator(BaseEstimator):
    """The estimators' base: ``fit`` and its epochs; subclasses say how targets become Y and back."""

    _fused_on_cpu = True  # tests set it to False to run the Function path on the CPU

    def __init__(
        self,
        hidden_size: int = DEFAULTS.hidden_size,
        activation: str = DEFAULTS.activation,
        *,
        lr: float = DEFAULTS.lr,
        batch_size: int | str = DEFAULTS.batch_size,
        max_iter: int = DEFAULTS.max_iter,
        tol: float = DEFAULTS.tol,
        n_iter_no_change: int = DEFAULTS.n_iter_no_change,
        early_stopping: bool = DEFAULTS.early_stopping,
        validation_fraction: float = DEFAULTS.validation_fraction,
        momentum: float = DEFAULTS.momentum,
        nesterov: bool = DEFAULTS.nesterov,
        alpha: float = DEFAULTS.alpha,
        init: str = DEFAULTS.init,
        random_state: int | np.random.RandomState | None = DEFAULTS.random_state,
        warm_start: bool = DEFAULTS.warm_start,
        verbose: bool | int = DEFAULTS.verbose,
        device: str | torch.device = DEFAULTS.device,
        dtype: str | torch.dtype | None = DEFAULTS.dtype,
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
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TwoLayerEstimator:
        """Train for up to ``max_iter`` epochs (from scratch unless ``warm_start``).

        Args:
            X: (n_samples, n_features) array-like or sparse matrix (densified once).
            y: class labels (n_samples,), a 0/1 indicator (n_samples, n_labels) for multi-label,
                or regression targets (n_samples,) / (n_samples, n_targets).
            sample_weight: (n_samples,) non-negative weights: each batch's cost is Σ w L / Σ w.

        Returns:
            self

        Raises:
            DivergenceError: (a ``ValueError``) the cost became non-finite or rose above
                :func:`~torchtwolayer.core.divergence.divergence_bound`; the estimator is left as it was.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None) -> TwoLayerEstimator:
        """Train, or leave the estimator as it was if training fails (a bad input, divergence)."""
        check_parameters({name: getattr(self, name) for name in PARAMETERS})
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True; use fit, or early_stopping=False")
        before = self._fitted_state()
        try:
            self._train(X, y, sample_weight, incremental, classes)
        except Exception:
            self._restore(before)
            raise
        return self

    def _network_changed(self) -> bool:
        """The fitted network's hidden size or activation differs from the hyperparameters'."""
        return hasattr(self, "net_") and (self.net_.n1, self.net_.activation) != (self.hidden_size, self.activation)

    def _train(self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any) -> None:
        if incremental and self._network_changed():
            raise ValueError(
                f"partial_fit continues the fitted network (hidden_size={self.net_.n1}, activation="
                f"{self.net_.activation!r}), but the estimator now has hidden_size={self.hidden_size}, "
                f"activation={self.activation!r}; call fit to train a new network"
            )
        first_pass = not hasattr(self, "net_") or (not self.warm_start and not incremental) or self._network_changed()
        X, Y, labels = self._validate_training_data(X, y, incremental, first_pass, classes)
        w = None if sample_weight is None else sample_weights(sample_weight, X)
        Y = self._encode_target(Y, w, first_pass)
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
        validation = None  # (X dense, labels, weights) of the held-out rows
        if self.early_stopping:  # split first: a sparse X is densified once, in parts
            X, Y, w, validation = _split(X, Y, labels, w, self.validation_fraction, self._stratify(Y, labels), rng)
        # epoch e of the network's life (counting warm starts and partial fits) visits epoch_order(order_seed + e)
        epochs = self._epochs(X, Y, w, seed=order_seed + len(self.loss_curve_))
        if incremental and self._velocity and self.momentum:
            epochs.velocity = self._velocity
        self._run(epochs, validation, incremental)
        self._velocity = [v.clone() for v in epochs.velocity]

    def _initialize(self, n_features: int, n_outputs: int, X_dtype: np.dtype, seed: int) -> None:
        """A new network and empty training records (``MLPClassifier._initialize``'s)."""
        dtype = DTYPES[str(X_dtype)] if self.dtype is None else torch_dtype(self.dtype)
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

    def _epochs(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, seed: int) -> Epochs:
        """The epoch loop of this device, over the rows of positive weight (a zero weight removes a row);
        X (dense or sparse) becomes the one dense array the epochs read."""
        if w is not None and not (w > 0).all():
            X, Y, w = X[w > 0], Y[w > 0], some_weight(w[w > 0])  # an early-stopping split may leave none
        X, net = dense(X), self.net_
        B = _batch_size(self.batch_size, X.shape[0])
        mean_w = 1.0 if w is None else float(w.mean())
        return make_epochs(
            net, as_tensor(X, net.W1), as_tensor(Y, net.W1), None if w is None else as_tensor(w, net.W1),
            fused=net.W1.device.type == "cpu" and type(self)._fused_on_cpu, lr=float(self.lr), batch_size=B,
            seed=seed, momentum=float(self.momentum), nesterov=bool(self.nesterov),
            weight_decay=float(self.alpha) / (B * mean_w),
        )  # fmt: skip

    def _run(self, epochs: Epochs, validation: tuple | None, incremental: bool) -> None:
        """Epochs until ``max_iter``, or until the loss (validation score) stops improving by ``tol``;
        a :class:`DivergenceError` as soon as the loss passes the divergence bound."""
        self.n_iter_ = 0
        bound = divergence_bound(_l2_term(self.net_, epochs.weight_decay) + epochs.cost(), self._chance_cost())
        try:
            for _ in range(self.max_iter):
                loss = _l2_term(self.net_, epochs.weight_decay) + epochs.run_epoch()
                if has_diverged(loss, bound):
                    raise DivergenceError(self._diverged(f"at epoch {len(self.loss_curve_) + 1}", loss, bound))
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
        if validation is not None:
            self._load(self._best_parameters)
        if not all(torch.isfinite(p).all() for p in self.net_.parameters()):  # the last step's
            raise DivergenceError(self._diverged("at its last step", epochs.cost(), bound))

    def _diverged(self, where: str, cost: float, bound: float) -> str:
        return f"{divergence_message(where, cost, bound, float(self.lr))} {KEPT}"

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
    def _forward(self, X: np.ndarray) -> np.ndarray:
        """The logits Z2 (n_samples, n_outputs), in X's floating dtype."""
        net = self.net_
        Xt = as_tensor(X, net.W1)
        work = X.shape[0] * net.n1 * (net.n0 + net.n2)  # multiply-adds of the forward pass
        with torch.no_grad(), threads_for(work, Xt.device):
            Z2 = two_layer(Xt, net.W1, net.b1, net.W2, net.b2, net.activation)
        return Z2.cpu().numpy().astype(X.dtype, copy=False)

    def _validated_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=SPARSE, dtype=(np.float64, np.float32), reset=False)
        return dense(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # densified once: the network is dense
        return tags


# -------------------------------------------------------------------------------- helpers
def _split(
    X: np.ndarray, Y: np.ndarray, labels: np.ndarray, w: np.ndarray | None, fraction: float,
    stratify: np.ndarray | None, rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple]:  # fmt: skip
    """The training rows, and the validation rows as (X dense, labels, weights), MLP's way."""
    arrays = [X, Y, labels] + ([] if w is None else [w])
    parts = train_test_split(*arrays, test_size=fraction, random_state=rng, stratify=stratify)
    train, val = parts[0::2], parts[1::2]
    if val[0].shape[0] < 2:
        raise ValueError(
            "The validation set is too small (fewer than 2 rows). Increase 'validation_fraction' "
            "or the size of your dataset."
        )
    w_train, w_val = (None, None) if w is None else (train[3], val[3])
    return train[0], train[1], w_train, (dense(val[0]), val[2], w_val)


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
