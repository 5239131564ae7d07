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

from .module import TwoLayerNet

TaskName = Literal["binary", "multiclass", "regression"]
HEAD_OF_TASK = {"binary": "sigmoid", "multiclass": "softmax", "regression": "identity"}


def make_metrics(task: str, n_outputs: int) -> MetricCollection:
    """binary: accuracy, F1, AUROC (binned: fixed memory); multiclass: accuracy, macro-F1; regression: MSE, R²."""
    if task == "binary":
        return MetricCollection({"acc": BinaryAccuracy(), "f1": BinaryF1Score(), "auroc": BinaryAUROC(thresholds=200)})
    if task == "multiclass":
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(n_outputs, average="micro"),
                "f1": MulticlassF1Score(n_outputs, average="macro"),
            }
        )
    return MetricCollection({"mse": MeanSquaredError(), "r2": R2Score()})


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
        if self.net is not None:
            return
        dm = getattr(self.trainer, "datamodule", None)
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
    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        X, Y = batch
        J, Z2 = self.net.cost_and_logits(X, Y)  # Z2 comes detached, for the metrics
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(*self._metric_inputs(Z2, Y))
        self.log(f"{stage}/loss", J, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=len(X))
        self.log_dict(metrics, on_step=False, on_epoch=True)
        return J

    def _metric_inputs(self, Z2: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
        task = self.hparams.task
        if task == "binary":
            return torch.sigmoid(Z2[:, 0]), Y.long()
        if task == "multiclass":
            return Z2, Y
        return Z2[:, 0], Y

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

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
        )

    # ------------------------------------------------------------ checkpoints
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
