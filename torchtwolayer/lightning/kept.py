"""The checkpoints a run keeps, ``last.ckpt`` and ``best.ckpt``: their callbacks, and where they are.

Imports no LightningModule and no data module, so both the module (for its divergence message)
and the command's callbacks can name the checkpoints written so far.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

MONITOR = "val/loss"


def checkpoint_callbacks(has_validation: bool) -> list[Callback]:
    """``last.ckpt`` at the end of every epoch; with a validation split also ``best.ckpt``, the
    lowest ``val/loss``, which validates once before a step limit reached inside an epoch stops
    the run. (``save_last=True`` refreshes ``last.ckpt`` only when another checkpoint is saved, so
    "last" is a top-1 checkpoint of its own, without a monitor.)"""
    last = EpochCheckpoint(filename="last", save_top_k=1, enable_version_counter=False)
    if not has_validation:
        return [last]
    return [last, BestCheckpoint(monitor=MONITOR, mode="min", filename="best", auto_insert_metric_name=False)]


class StateKeyOnce:
    """For a subclass of a Lightning callback: its ``state_key`` made once, and the same as the
    Lightning class's for the same settings (so runs saved with the Lightning class resume).
    Lightning reads a callback's key at each of its six or so calls a batch, and
    ``ModelCheckpoint`` and ``EarlyStopping`` format it from their settings each time; those are
    fixed at construction."""

    @functools.cached_property
    def state_key(self) -> str:
        lightning = next(c for c in type(self).__mro__ if c.__module__.startswith("lightning."))
        return lightning.__qualname__ + super().state_key.removeprefix(type(self).__qualname__)  # type: ignore[misc]


class EpochCheckpoint(StateKeyOnce, ModelCheckpoint):
    """A ``ModelCheckpoint`` that saves at the end of epochs and validations only, so it does
    nothing per batch. Its keyword arguments are ``ModelCheckpoint``'s, without the per-step triggers."""

    def __init__(self, **kwargs: object) -> None:
        if {"every_n_train_steps", "train_time_interval"} & kwargs.keys():
            raise TypeError("EpochCheckpoint saves per epoch; use ModelCheckpoint for every_n_train_steps")
        super().__init__(**kwargs)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        """Nothing: no per-step trigger is set."""


class BestCheckpoint(EpochCheckpoint):
    """The lowest ``val/loss``; asks to stop when the step that reaches ``max_steps`` ends, instead
    of leaving it to the step limit: Lightning then validates before stopping (as for early
    stopping), so ``val/loss`` exists for ``best.ckpt`` even when the limit comes before the first
    validation."""

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: object, batch: object, batch_idx: int
    ) -> None:
        if 0 <= trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True


def saved_checkpoint(trainer: Trainer, which: str) -> str:
    """The path of the run's ``last`` or ``best`` checkpoint written so far, or ""."""
    for ckpt in trainer.checkpoint_callbacks:
        path = ckpt.last_model_path if which == "last" and ckpt.save_last else ckpt.best_model_path
        if path and Path(path).name == f"{which}.ckpt" and Path(path).is_file():
            return path
    return ""


def reported_checkpoint(trainer: Trainer) -> tuple[str, str]:
    """(path, which) of the checkpoint a run's next commands should use: best when kept, else last."""
    if best := saved_checkpoint(trainer, "best"):
        return best, f"best, lowest {MONITOR}"
    if last := saved_checkpoint(trainer, "last"):
        return last, "last"
    return "", ""
