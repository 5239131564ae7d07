"""``TwoLayerModule``: the LightningModule that trains :class:`TwoLayerNet` by the note's gradient descent."""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import Tensor
from torchmetrics import MeanMetric

from ..core.activations import ActivationName
from ..core.initializers import InitName
from ..core.module import TwoLayerNet
from ..core.tasks import TaskName, get_task
from ..core.validation import check_sgd, finite_number, positive_int
from . import compat

DIVERGENCE_FACTOR = 100.0  # a cost this many times the chance cost, sustained over an item, is divergence
ARCHITECTURE = ("n_features", "hidden_size", "n_outputs", "task", "activation")  # what a checkpoint fixes
OPTIMIZER = ("lr", "momentum", "nesterov", "weight_decay")  # what a resumed run may change
log = logging.getLogger(__name__)

Batch = tuple[Tensor, ...]


class DivergenceError(ValueError):
    """The cost became non-finite or rose far above its start: training stopped before a save."""


class TwoLayerModule(LightningModule):
    r"""Trains the note's network with SGD, :math:`W \leftarrow W - \alpha\, dW`, through the hand-written backward.

    Every step is :meth:`TwoLayerNet.cost`: the Function whose backward starts from
    dZ2 = A2 − Y. The sizes are the note's: ``n_features`` = n0, ``hidden_size`` = n1,
    ``n_outputs`` = n2. On the command line ``n_features``, ``n_outputs``, ``task``,
    ``target_mean`` and ``target_std`` come from the data module (linked, not flags).

    Optimization is manual: an item of the data module's loader holds up to 32 batches and
    :meth:`training_step` takes one optimizer step for each, so Lightning's per-item work
    is shared (``trainer.global_step`` counts optimizer steps, and ``max_steps`` is exact).
    A plain ``(X, Y)`` batch from any other loader is one step.

    Args:
        hidden_size: hidden units n1.
        activation: hidden activation g.
        init: parameter initialisation.
        lr: learning rate α.
        momentum: SGD momentum in [0, 1) (0: the note's plain gradient descent).
        nesterov: Nesterov momentum.
        weight_decay: L2 penalty on every parameter, as ``torch.optim.SGD``.
        seed: seed of the initialisation.
        n_features: inputs n0.
        n_outputs: outputs n2 (1 for binary and regression, the number of classes otherwise).
        task: picks the head and the metrics (:mod:`~torchtwolayer.core.tasks`).
        target_mean, target_std: the regression target's standardisation, so that metrics are
            reported in the target's units.

    Shape:
        - Input: (m, n_features)
        - Output: (m, n_outputs), the logits Z2, as ``TwoLayerNet``.

    Attributes:
        net: the :class:`TwoLayerNet`.
        task: the :class:`~torchtwolayer.core.tasks.Task`.
    """

    def __init__(
        self,
        hidden_size: int = 4,
        activation: ActivationName = "tanh",
        init: InitName = "xavier",
        lr: float = 1.2,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        seed: int = 0,
        n_features: int = 2,
        n_outputs: int = 1,
        task: TaskName = "binary",
        target_mean: float = 0.0,
        target_std: float = 1.0,
    ) -> None:
        super().__init__()
        check_sgd(lr, momentum, nesterov, weight_decay)
        positive_int("hidden_size", hidden_size)
        finite_number("target_mean", target_mean)
        if not finite_number("target_std", target_std) > 0:
            raise ValueError(f"target_std must be positive, got {target_std}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.task = get_task(task)
        self.net = TwoLayerNet(n_features, hidden_size, n_outputs, activation, self.task.head, init, seed=seed)
        metrics = self.task.metrics(n_outputs)
        self.train_metrics = self.task.metrics(n_outputs, ranking=False).clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.train_loss = MeanMetric()
        self.data_checked = False  # set by the data module: its batches' values were checked once, at load
        self._divergence_bound = math.inf

    def forward(self, X: Tensor) -> Tensor:
        """The logits Z2, (m, n_outputs), as ``self.net(X)``."""
        return self.net(X)

    # -------------------------------------------------------------- training
    def setup(self, stage: str) -> None:
        from ..data.module import TwoLayerDataModule

        self.data_checked = isinstance(getattr(self.trainer, "datamodule", None), TwoLayerDataModule)

    def on_train_start(self) -> None:
        self._apply_optimizer_settings()
        self._divergence_bound = math.inf

    def training_step(self, batch: Batch | list[Batch], batch_idx: int) -> None:
        """One optimizer step per batch of the item: J through the Function, the note's
        backward by ``manual_backward``, W ← W − α dW by the optimizer.

        Under data parallelism a batch carries this process's ``share`` of the global batch
        (see :class:`~torchtwolayer.data.loader.InMemoryBatches`); scaling J by it makes the
        processes' averaged gradients those of the global batch."""
        batches = batch if isinstance(batch, list) else [batch]
        opt = self.optimizers()
        max_steps = self.trainer.max_steps
        costs, outputs = [], []
        for X, Y, *share in batches:
            if 0 <= max_steps <= self.global_step:
                break
            J, Z2 = self.net.cost_and_logits(X, Y)
            opt.zero_grad()
            self.manual_backward(J * share[0] if share else J)
            opt.step()
            costs.append(J.detach())
            outputs.append((Z2, Y))
        if costs:
            with torch.no_grad():  # the cost of the weights a checkpoint would now save, on the last batch
                costs.append(self.net.cost(X, Y))
            self._track_training(torch.stack(costs), outputs)

    def _track_training(self, costs: Tensor, outputs: list[tuple[Tensor, Tensor]]) -> None:
        """Once per item: stop on divergence, then update the epoch's loss and metrics and log.
        ``costs``: J before each step, then J of the final weights."""
        self._stop_if_diverged(costs)
        mean = costs[:-1].mean()
        self.train_loss.update(mean, weight=len(costs) - 1)
        Z2, Y = (torch.cat(t) for t in zip(*outputs, strict=True))
        self.train_metrics.update(*self.task.metric_inputs(Z2, Y, *self._target_scale()))
        if self.trainer.loggers or self.trainer.progress_bar_callback is not None:  # (Lightning's log is costly)
            self.log("train/loss_step", mean, prog_bar=True)
            self._log_step()

    def _stop_if_diverged(self, costs: Tensor) -> None:
        """Divergence: a non-finite cost, or weights whose cost is above ``DIVERGENCE_FACTOR``
        times the larger of the run's first cost and the chance cost. Checked before any save,
        so every checkpoint holds weights that passed; decided together under data parallelism."""
        first, after, worst = (float(v) for v in torch.stack([costs[0], costs[-1], costs.max()]).tolist())
        if self._divergence_bound == math.inf:
            self._divergence_bound = DIVERGENCE_FACTOR * max(first, self.task.chance_cost(self.hparams.n_outputs))
        diverged = not math.isfinite(worst) or after > self._divergence_bound
        if not self.trainer.strategy.reduce_boolean_decision(diverged, all=False):
            return
        raise DivergenceError(
            f"training diverged by step {self.global_step}: the cost J is {after:.4g} (the limit is "
            f"{self._divergence_bound:.4g}). {self._divergence_advice()} {self._checkpoint_note()}"
        )

    def _divergence_advice(self) -> str:
        hp = self.hparams
        advice = f"The learning rate lr={hp.lr:g} is too large for this problem; try --model.lr {hp.lr / 10:g}"
        if hp.momentum:
            advice += f", or a smaller --model.momentum than {hp.momentum:g}"
        return advice + "."

    def _checkpoint_note(self) -> str:
        from .callbacks import saved_checkpoint  # (callbacks import this module)

        last = saved_checkpoint(self.trainer, "last")
        if not last:
            return "No checkpoint had been written yet."
        return f"The last good checkpoint is kept: {last} (resume with --ckpt_path {last})."

    def on_train_epoch_end(self) -> None:
        """The epoch's loss and metrics, logged once per epoch (Lightning's ``log`` is costly)."""
        if self.train_loss.update_count:
            self.log("train/loss", self.train_loss.compute())  # (MeanMetric synchronises the processes itself)
            self.log_dict(self.train_metrics.compute())
        self.train_loss.reset()
        self.train_metrics.reset()
        self._log_step()

    def _log_step(self) -> None:
        """A logged ``step`` is the x-axis Lightning gives every logger: optimizer steps, not items."""
        self.log("step", float(self.global_step))

    # ------------------------------------------------------------ evaluation
    def _shared_step(self, batch: Batch, stage: str) -> Tensor:
        X, Y = batch[:2]
        J, Z2 = self.net.cost_and_logits(X, Y)
        getattr(self, f"{stage}_metrics").update(*self.task.metric_inputs(Z2, Y, *self._target_scale()))
        self.log(f"{stage}/loss", J, on_epoch=True, prog_bar=True, batch_size=len(Y), sync_dist=True)
        return J

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics)
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self._log_step()

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics)

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """A2: probabilities (binary, multiclass), or standardised values (regression)."""
        return self.net.predict_proba(batch[0])

    @torch.no_grad()
    def score(self, X: Tensor, Y: Tensor, chunk: int = 65536) -> dict[str, float]:
        """Cost J and the task's metrics on the whole (X, Y), computed here (no synchronisation).

        The chunks are moved to the network's device and floating dtype, as Lightning's
        precision plugin does for batches (``--trainer.precision 64-true`` makes it float64)."""
        metrics = self.task.metrics(self.hparams.n_outputs, sync=False).to(self.device)
        dtype = self.net.W1.dtype
        J = torch.zeros((), device=self.device, dtype=torch.float64)
        for i in range(0, len(X), chunk):
            Xi, Yi = X[i : i + chunk].to(self.device, dtype), Y[i : i + chunk].to(self.device)
            Yi = Yi.to(dtype) if Yi.is_floating_point() else Yi
            Ji, Z2 = self.net.cost_and_logits(Xi, Yi)
            metrics.update(*self.task.metric_inputs(Z2, Yi, *self._target_scale()))
            J += Ji.double() * len(Xi)
        return {"loss": (J / len(X)).item(), **{k: v.item() for k, v in metrics.compute().items()}}

    def _target_scale(self) -> tuple[float, float]:
        return self.hparams.target_mean, self.hparams.target_std

    # ------------------------------------------------------------- optimizer
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

    def _apply_optimizer_settings(self) -> None:
        """A resumed run trains with this run's lr, momentum, Nesterov and weight decay: the
        restored optimizer state keeps its own, so set them, and say what changed."""
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                changed = [f"{k} {group[k]:g} → {self.hparams[k]:g}" for k in OPTIMIZER if group[k] != self.hparams[k]]
                if changed:
                    log.warning(f"note: resuming with new settings: {', '.join(changed)}")
                group.update({k: self.hparams[k] for k in OPTIMIZER})

    def teardown(self, stage: str) -> None:
        """A worker started by ``ddp_spawn`` ends with ``os._exit``, which skips Lightning's
        atexit handler that destroys the process group; destroy it here instead."""
        if compat.is_spawned_worker(self.trainer):
            torch.distributed.destroy_process_group()

    # ------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Never write non-finite weights over a good checkpoint."""
        bad = [name for name, p in self.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(
                f"training diverged by step {self.global_step}: {', '.join(bad)} hold NaN or inf, so no "
                f"checkpoint was written. {self._divergence_advice()} {self._checkpoint_note()}"
            )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("hyper_parameters", {})
        for key in ARCHITECTURE:
            if key in saved and saved[key] != self.hparams[key]:
                raise ValueError(
                    f"the checkpoint was trained with {key}={saved[key]!r} but this model has "
                    f"{key}={self.hparams[key]!r}; use data with the checkpoint's columns and settings"
                )
