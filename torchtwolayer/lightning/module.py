"""``TwoLayerModule``: the LightningModule that trains :class:`TwoLayerNet` by the note's gradient descent."""

from __future__ import annotations

import importlib
import inspect
import logging
import math
from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import Tensor
from torchmetrics import MeanMetric

from ..core.activations import ActivationName
from ..core.divergence import DivergenceError, divergence_bound, divergence_message, has_diverged
from ..core.initializers import InitName
from ..core.module import TwoLayerNet
from ..core.tasks import TaskName, get_task, rows_per_chunk
from ..core.validation import check_sgd, finite_number, positive_int
from . import compat
from .kept import MONITOR, saved_checkpoint

__all__ = ["DivergenceError", "TwoLayerModule", "scheduler_class"]
TRACK_EVERY = 32  # batches between divergence checks and training-metric updates (each costs a host sync)
ARCHITECTURE = ("n_features", "hidden_size", "n_outputs", "task", "activation")  # what a checkpoint fixes
OPTIMIZER = ("lr", "momentum", "nesterov", "weight_decay")  # what a resumed run may change
log = logging.getLogger(__name__)

Batch = tuple[Tensor, ...]


class TwoLayerModule(LightningModule):
    r"""Trains the note's network with SGD, :math:`W \leftarrow W - \alpha\, dW`, through the hand-written backward.

    Every step is :meth:`TwoLayerNet.cost`: the Function whose backward starts from
    dZ2 = A2 − Y. The sizes are the note's: ``n_features`` = n0, ``hidden_size`` = n1,
    ``n_outputs`` = n2. On the command line ``n_features``, ``n_outputs``, ``task``,
    ``target_mean`` and ``target_std`` come from the data module (linked, not flags).

    Optimization is Lightning's automatic one: each batch is one :meth:`training_step`, and
    Lightning runs the backward and ``torch.optim.SGD``'s step, so every Trainer option applies
    as Lightning documents it (gradient clipping, accumulation, ``val_check_interval``,
    ``limit_train_batches``, ``StochasticWeightAveraging``, the learning-rate finder), with
    ``trainer.global_step`` counting optimizer steps. The divergence check and the training
    metrics are computed every ``TRACK_EVERY`` batches, so that a step waits on no host sync.

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
        target_mean: the regression target's training mean, so that metrics are in its units.
        target_std: the regression target's training standard deviation.
        lr_scheduler: a ``torch.optim.lr_scheduler`` class for the SGD optimizer, stepped each
            epoch, as plain values: ``{"class_path": "StepLR", "init_args": {"step_size": 10}}``
            (the command's ``--lr_scheduler StepLR --lr_scheduler.step_size 10``).

    Shape:
        - Input: (m, n_features)
        - Output: (m, n_outputs), the logits Z2, as ``TwoLayerNet``.

    Attributes:
        net: the :class:`TwoLayerNet`.
        task: the :class:`~torchtwolayer.core.tasks.Task`.
        stop_on_divergence: raise :class:`DivergenceError` when the cost diverges (the
            learning-rate finder turns it off: it stops on a rising cost itself).
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
        lr_scheduler: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_sgd(lr, momentum, nesterov, weight_decay)
        positive_int("hidden_size", hidden_size)
        finite_number("target_mean", target_mean)
        if not finite_number("target_std", target_std) > 0:
            raise ValueError(f"target_std must be positive, got {target_std}")
        if lr_scheduler is not None:
            scheduler_class(lr_scheduler.get("class_path", ""))
        self.save_hyperparameters()
        # the values the data module links in, also when a LightningCLI saved only the ones given (Lightning 2.4)
        self.hparams.update(
            n_features=n_features, n_outputs=n_outputs, task=task, target_mean=target_mean, target_std=target_std
        )
        self.task = get_task(task)
        self.net = TwoLayerNet(n_features, hidden_size, n_outputs, activation, self.task.head, init, seed=seed)
        metrics = self.task.metrics(n_outputs)
        self.train_metrics = self.task.metrics(n_outputs, ranking=False).clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.train_loss = MeanMetric()
        self.stop_on_divergence = True
        self._divergence_bound = math.inf
        self._pending: list[tuple[Tensor, Tensor, Tensor]] = []  # (J, Z2, Y) of the batches not yet tracked
        self._last_batch: tuple[Tensor, Tensor] | None = None

    def forward(self, X: Tensor) -> Tensor:
        """The logits Z2, (m, n_outputs), as ``self.net(X)``."""
        return self.net(X)

    # -------------------------------------------------------------- training
    def on_train_start(self) -> None:
        if self.trainer.ckpt_path:
            self._apply_optimizer_settings()
        self._divergence_bound = math.inf
        self._pending.clear()
        self._last_batch = None

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """J through the Function; Lightning runs the note's backward and the optimizer step
        (with any clipping, accumulation and schedule it was given).

        Under data parallelism a batch carries this process's ``share`` of the global batch
        (see :class:`~torchtwolayer.data.loader.InMemoryBatches`); scaling J by it makes the
        processes' averaged gradients those of the global batch."""
        X, Y, *share = batch
        J, Z2 = self.net.cost_and_logits(X, Y)
        self._pending.append((J.detach(), Z2.detach(), Y))
        self._last_batch = (X, Y)
        if len(self._pending) == TRACK_EVERY:
            self._track_training()
        every = self.trainer.log_every_n_steps
        if every and (self.global_step + 1) % every == 0 and self._shows_logs():  # the steps Lightning logs at
            self.log("train/loss_step", J.detach(), prog_bar=True)
        return J * share[0] if share else J

    # (Lightning reads training_step's signature at every step; a stored one is read without inspecting)
    training_step.__signature__ = inspect.signature(training_step)  # type: ignore[attr-defined]

    def _track_training(self) -> None:
        """Every ``TRACK_EVERY`` batches and at the end of an epoch: stop on divergence, then
        update the epoch's loss and metrics (one host sync)."""
        if not self._pending:
            return
        costs, Z2, Y = (list(t) for t in zip(*self._pending, strict=True))
        self._pending.clear()
        costs = torch.stack(costs)
        self._stop_if_diverged(costs)
        self.train_loss.update(costs.mean(), weight=len(costs))
        self.train_metrics.update(*self.task.metric_inputs(torch.cat(Z2), torch.cat(Y), *self._target_scale()))

    def _shows_logs(self) -> bool:
        """Whether a logger or a progress bar will show what is logged (Lightning's ``log`` is costly)."""
        return bool(self.trainer.loggers) or self.trainer.progress_bar_callback is not None

    def _stop_if_diverged(self, costs: Tensor) -> None:
        """The one divergence rule (:mod:`~torchtwolayer.core.divergence`) on J before each step,
        the last being that of the newest weights. Checked before any save, so every checkpoint
        holds weights that passed; decided together under data parallelism."""
        if not self.stop_on_divergence:
            return
        first, last, worst = torch.stack([costs[0], costs[-1], costs.max()]).tolist()
        if self._divergence_bound == math.inf:
            self._divergence_bound = divergence_bound(first, self.task.chance_cost(self.hparams.n_outputs))
        diverged = has_diverged(worst, math.inf) or has_diverged(last, self._divergence_bound)
        if self.trainer.strategy.reduce_boolean_decision(diverged, all=False):
            raise DivergenceError(self._divergence_message(divergence_message(
                f"by step {self.global_step}", last, self._divergence_bound, self.hparams.lr, "--model.lr"
            )))  # fmt: skip

    def _divergence_message(self, what: str) -> str:
        momentum = self.hparams.momentum
        advice = f" A smaller --model.momentum than {momentum:g} also helps." if momentum else ""
        last = saved_checkpoint(self.trainer, "last")
        kept = f"The last good checkpoint is kept: {last} (resume with --ckpt_path {last})." if last else (
            "No checkpoint had been written yet."
        )  # fmt: skip
        return f"{what}{advice} {kept}"

    def on_train_epoch_end(self) -> None:
        """The epoch's loss and metrics, logged once per epoch (Lightning's ``log`` is costly)."""
        self._track_training()
        if self.train_loss.update_count:
            self.log("train/loss", self.train_loss.compute())  # (MeanMetric synchronises the processes itself)
            self.log_dict(self.train_metrics.compute())
        self.train_loss.reset()
        self.train_metrics.reset()

    def __setattr__(self, name: str, value: Any) -> None:
        """Lightning sets plain attributes of the module around every hook it calls; one that is
        neither a tensor nor a module, and is already set, skips ``nn.Module``'s registration checks."""
        if name in self.__dict__ and not isinstance(value, (Tensor, torch.nn.Module)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

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
        chunk = min(chunk, rows_per_chunk(self.hparams.n_outputs))
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
    def configure_optimizers(self) -> dict[str, Any]:
        """The note's update, ``torch.optim.SGD``, and the ``lr_scheduler`` given, stepped each epoch."""
        hp = self.hparams
        sgd = torch.optim.SGD(
            self.parameters(),
            lr=hp.lr,
            momentum=hp.momentum,
            nesterov=hp.nesterov,
            weight_decay=hp.weight_decay,
            foreach=True,  # one kernel call for all four parameters
        )
        if hp.lr_scheduler is None:
            return {"optimizer": sgd}
        cls = scheduler_class(hp.lr_scheduler["class_path"])
        init = dict(hp.lr_scheduler.get("init_args") or {})
        scheduler: dict[str, Any] = {"interval": "epoch"}
        if issubclass(cls, torch.optim.lr_scheduler.ReduceLROnPlateau):  # it steps on a logged value
            scheduler["monitor"] = init.get("monitor", MONITOR)
            if "monitor" not in inspect.signature(cls).parameters:  # (Lightning's subclass takes it)
                init.pop("monitor", None)
        return {"optimizer": sgd, "lr_scheduler": {"scheduler": cls(sgd, **init), **scheduler}}

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
        """Never write diverged weights over a good checkpoint: the divergence rule is applied to
        the batches not yet checked and to these weights' cost on the last batch."""
        bad = [name for name, p in self.named_parameters() if not torch.isfinite(p).all()]
        if bad and self.stop_on_divergence:
            what = divergence_message(
                f"by step {self.global_step}", math.nan, self._divergence_bound, self.hparams.lr, "--model.lr"
            )
            raise DivergenceError(
                self._divergence_message(f"{', '.join(bad)} hold NaN or inf, so no checkpoint was written: {what}")
            )
        if self._last_batch is not None:
            X, Y = self._last_batch
            with torch.no_grad():
                now = self.net.cost(X, Y)
            self._stop_if_diverged(torch.stack([*(J for J, _, _ in self._pending), now]))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("hyper_parameters", {})
        for key in ARCHITECTURE:
            if key in saved and saved[key] != self.hparams[key]:
                raise ValueError(
                    f"the checkpoint was trained with {key}={saved[key]!r} but this model has "
                    f"{key}={self.hparams[key]!r}; use data with the checkpoint's columns and settings"
                )


def scheduler_class(class_path: str) -> type:
    """The learning-rate scheduler class that ``class_path`` names: ``StepLR`` (a class of
    ``torch.optim.lr_scheduler``) or a dotted path such as ``lightning.pytorch.cli.ReduceLROnPlateau``."""
    module, _, name = str(class_path).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module or "torch.optim.lr_scheduler"), name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    schedulers = (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if not (isinstance(cls, type) and issubclass(cls, schedulers)):
        raise ValueError(
            f"lr_scheduler {class_path!r} is not a torch.optim.lr_scheduler class; give one such as "
            "StepLR, ExponentialLR, CosineAnnealingLR or ReduceLROnPlateau"
        )
    return cls
