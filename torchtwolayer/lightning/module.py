"""``TwoLayerModule``: the LightningModule that trains :class:`TwoLayerNet` by the note's gradient descent."""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassF1Score,
)
from torchmetrics.regression import MeanSquaredError, R2Score

from ..core.module import TwoLayerNet
from ..data.module import TwoLayerDataModule

TaskName = Literal["binary", "multiclass", "regression"]
HEAD_OF_TASK = {"binary": "sigmoid", "multiclass": "softmax", "regression": "identity"}


def make_metrics(task: str, n_outputs: int, sync: bool = True) -> MetricCollection:
    """binary: accuracy, F1, AUROC (binned: fixed memory); multiclass: accuracy, macro-F1; regression: MSE, R².

    ``sync=False`` for metrics that one process computes over a whole split on its own.
    """
    kw = {"sync_on_compute": sync}
    if task == "binary":
        return MetricCollection(
            {"acc": BinaryAccuracy(**kw), "f1": BinaryF1Score(**kw), "auroc": BinaryAUROC(thresholds=200, **kw)}
        )
    if task == "multiclass":
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(n_outputs, average="micro", **kw),
                "f1": MulticlassF1Score(n_outputs, average="macro", **kw),
            }
        )
    return MetricCollection({"mse": MeanSquaredError(**kw), "r2": R2Score(**kw)})


class DivergenceError(ValueError):
    """The cost became NaN or infinite: training stopped before the bad weights were saved."""


class TwoLayerModule(LightningModule):
    """Trains the note's network with plain SGD, W ← W − α dW, through the hand-written backward.

    The loss is :meth:`TwoLayerNet.cost`, the fused Function whose backward starts from
    dZ2 = A2 − Y. ``n_features`` comes from the data module (the CLI links it);
    ``n_outputs`` and ``task`` too, at ``setup``, when they are left ``None``.

    Args:
        n_features: input features n0.
        n_outputs: outputs n2 (1 for binary and regression, the number of classes otherwise).
        task: ``binary``, ``multiclass`` or ``regression``; picks the head and the metrics.
        hidden_size: hidden units n1.
        activation: hidden activation g.
        init: parameter initialisation (``course``, ``xavier``, ``kaiming``, ``pytorch``).
        lr: learning rate α.
        momentum: SGD momentum (0: the note's plain gradient descent).
        nesterov: Nesterov momentum.
        weight_decay: L2 penalty.
        seed: seed of the initialisation.
    """

    def __init__(
        self,
        n_features: int = 2,
        n_outputs: int | None = None,
        task: TaskName | None = None,
        hidden_size: int = 4,
        activation: Literal["tanh", "sigmoid", "relu", "leaky_relu", "identity"] = "tanh",
        init: Literal["course", "xavier", "kaiming", "pytorch"] = "xavier",
        lr: float = 1.2,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        _check_hyperparameters(n_features, n_outputs, hidden_size, lr, momentum, nesterov, weight_decay, task)
        self.save_hyperparameters()
        self.net: TwoLayerNet | None = None
        self._loss_sum, self._loss_count = torch.zeros(()), 0  # the epoch's training loss, summed
        self._train_metrics_from_data = False
        if n_outputs is not None and task is not None:
            self._build(task, n_outputs)

    # ----------------------------------------------------------------- model
    def _build(self, task: str, n_outputs: int) -> None:
        hp = self.hparams
        hp.task, hp.n_outputs = task, n_outputs
        self.net = TwoLayerNet(
            hp.n_features, hp.hidden_size, n_outputs, hp.activation, HEAD_OF_TASK[task], hp.init, seed=hp.seed
        )
        metrics = make_metrics(task, n_outputs)
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def setup(self, stage: str) -> None:
        if self.net is None:
            self.configure_from(getattr(self.trainer, "datamodule", None))
        if stage == "fit":  # our data module can give the whole training split for the metrics
            self._train_metrics_from_data = isinstance(getattr(self.trainer, "datamodule", None), TwoLayerDataModule)

    def configure_from(self, dm: Any) -> None:
        """Take the task and number of outputs from the data module ``dm`` where not given."""
        task = self.hparams.task or getattr(dm, "task", None)
        n_outputs = self.hparams.n_outputs or getattr(dm, "n_outputs", None)
        if task is None or n_outputs is None:
            raise ValueError(
                "the model does not know its task and number of outputs: give --model.task and "
                "--model.n_outputs, train with a data set that has a target, or pass --ckpt_path"
            )
        self._build(task, n_outputs)

    def forward(self, X: Tensor) -> Tensor:
        """A2: probabilities (binary, multiclass) or standardised values (regression)."""
        return self.net.predict_proba(X)

    # -------------------------------------------------------------- training
    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """J through the fused Function: Lightning's backward runs the note's backward
        (``TwoLayerCost.backward``), and its optimizer W ← W − α dW.

        Under data parallelism a batch carries this process's ``share`` of the global batch
        (see :class:`~torchtwolayer.loader.InMemoryBatches`); scaling J by it makes the
        processes' averaged gradients those of the global batch."""
        X, Y, *share = batch
        J = self.net.cost(X, Y)
        self._stop_if_diverged(J)  # before Lightning's backward and step
        self._track_train(J, X, Y)
        return J * share[0] if share else J

    def _stop_if_diverged(self, J: Tensor) -> None:
        if torch.isfinite(J):
            return
        ckpt = self.trainer.checkpoint_callback if self._trainer is not None else None
        last = getattr(ckpt, "last_model_path", "") or getattr(ckpt, "best_model_path", "")
        kept = f"The last good checkpoint is kept: {last}" if last else "No checkpoint had been written yet."
        lr = self.hparams.lr
        raise DivergenceError(
            f"training diverged at step {self.global_step}: the cost J is {J.item()}. The learning rate "
            f"lr={lr:g} is too large for this problem; try a smaller one, e.g. --model.lr {lr / 10:g}. {kept}"
        )

    def _track_train(self, J: Tensor, X: Tensor, Y: Tensor) -> None:
        """Cheap per-step bookkeeping: the loss is summed on the device and logged at the
        logger's cadence; metrics come from the whole training split at the epoch's end
        (or, for data from elsewhere, are updated on every batch)."""
        self._loss_sum = J.detach() if self._loss_count == 0 else self._loss_sum + J.detach()
        self._loss_count += 1
        if not self._train_metrics_from_data:
            with torch.no_grad():
                self.train_metrics.update(*self._metric_inputs(self.net(X), Y))
        loop = self.trainer.fit_loop.epoch_loop
        if (getattr(loop, "_batches_that_stepped", 0) + 1) % self.trainer.log_every_n_steps == 0:
            self.log("train/loss_step", J, prog_bar=True)

    def on_train_epoch_end(self) -> None:
        if self._loss_count:
            self.log("train/loss", self._loss_sum / self._loss_count, sync_dist=True, prog_bar=True)
            self._loss_count = 0
        if self._train_metrics_from_data:
            X, Y = self.trainer.datamodule.tensors("train")
            self.score(X, Y, self.train_metrics)
        self._log_metrics(self.train_metrics)

    @torch.no_grad()
    def score(self, X: Tensor, Y: Tensor, metrics: MetricCollection, chunk: int = 65536) -> Tensor:
        """Update ``metrics`` with the whole (X, Y) in large chunks; return the cost J on it.

        The chunks are moved to the network's device and floating dtype, as Lightning's
        precision plugin does for batches (``--trainer.precision 64-true`` makes it float64)."""
        J = torch.zeros((), device=self.device, dtype=torch.float64)
        dtype = self.net.W1.dtype
        for i in range(0, len(X), chunk):
            Xi, Yi = X[i : i + chunk].to(self.device, dtype), Y[i : i + chunk].to(self.device)
            Yi = Yi.to(dtype) if Yi.is_floating_point() else Yi
            Ji, Z2 = self.net.cost_and_logits(Xi, Yi)
            metrics.update(*self._metric_inputs(Z2, Yi))
            J += Ji.double() * len(Xi)
        return J / len(X)

    def _log_metrics(self, metrics: MetricCollection) -> None:
        """Compute (synchronised across processes by torchmetrics), log, reset."""
        self.log_dict(metrics.compute(), sync_dist=True)  # already equal on every process
        metrics.reset()

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        X, Y = batch
        J, Z2 = self.net.cost_and_logits(X, Y)
        getattr(self, f"{stage}_metrics").update(*self._metric_inputs(Z2, Y))
        self.log(f"{stage}/loss", J, on_epoch=True, prog_bar=True, batch_size=len(Y), sync_dist=True)
        return J

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics)

    def _metric_inputs(self, Z2: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
        task = self.hparams.task
        if task == "binary":
            return torch.sigmoid(Z2[:, 0]), Y.long()
        if task == "multiclass":
            return Z2, Y
        return Z2[:, 0], Y

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self(batch[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        hp = self.hparams
        return torch.optim.SGD(
            self.parameters(),
            lr=hp.lr,
            momentum=hp.momentum,
            nesterov=hp.nesterov,
            weight_decay=hp.weight_decay,
            foreach=True,  # one kernel call for all four parameters
        )

    def teardown(self, stage: str) -> None:
        """A worker started by ``ddp_spawn`` ends with ``os._exit``, which skips Lightning's
        atexit handler that destroys the process group; destroy it here instead."""
        launcher = getattr(self._trainer.strategy, "launcher", None) if self._trainer is not None else None
        spawned = getattr(launcher, "_start_method", None) in ("spawn", "forkserver")
        if stage == "fit" and spawned and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    # ------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Never write non-finite weights over a good checkpoint."""
        bad = [name for name, p in self.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(
                f"training diverged by step {self.global_step}: {', '.join(bad)} hold NaN or inf, so no "
                f"checkpoint was written. Try a smaller learning rate than lr={self.hparams.lr:g}"
            )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("hyper_parameters", {})
        for key in ("n_features", "hidden_size", "n_outputs", "task", "activation"):
            if key in saved and self.hparams.get(key) is not None and saved[key] != self.hparams[key]:
                raise ValueError(
                    f"the checkpoint was trained with {key}={saved[key]!r} but this run has "
                    f"{key}={self.hparams[key]!r}; use data with the checkpoint's columns and settings"
                )


def _check_hyperparameters(
    n_features: int, n_outputs: int | None, hidden_size: int, lr: float, momentum: float,
    nesterov: bool, weight_decay: float, task: str | None,
) -> None:  # fmt: skip
    for name, value in (("n_features", n_features), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if n_outputs is not None and (not isinstance(n_outputs, int) or n_outputs < 1):
        raise ValueError(f"n_outputs must be a positive integer, got {n_outputs!r}")
    if task is not None and task not in HEAD_OF_TASK:
        raise ValueError(f"unknown task {task!r}: expected one of {list(HEAD_OF_TASK)}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if momentum < 0 or weight_decay < 0:
        raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum} and {weight_decay}")
    if nesterov and momentum == 0:
        raise ValueError("nesterov=True needs a momentum above 0")
