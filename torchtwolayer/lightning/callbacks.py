"""What a fit shows and leaves behind, as Lightning callbacks: the run's summary and pictures,
one line per epoch when the output is not a terminal (the checkpoints kept: :mod:`.kept`), and a
table's early stopping."""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ..data.module import TwoLayerDataModule
from .kept import StateKeyOnce, reported_checkpoint, saved_checkpoint
from .module import TwoLayerModule


class TableEarlyStopping(StateKeyOnce, EarlyStopping):
    """``EarlyStopping`` as a table's fit adds it (``EarlyStopping``'s arguments), its key made once."""


class RunSummary(Callback):
    """At the end of ``fit``: learning curves and (for 2 features) the decision boundary in the
    run's folder, then the scores of the reported checkpoint on every split, where the files
    are, and the exact commands that come next. With ``epoch_lines``, also one line per epoch
    (loss and validation metrics), for output that is not a terminal, where a progress bar
    would write a line per refresh. (One callback for both: Lightning calls every callback
    about six times a batch, whatever hooks it has.)"""

    def __init__(self, command: str = "torchtwolayer", epoch_lines: bool = False) -> None:
        self.command, self.epoch_lines = command, epoch_lines
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not (self.epoch_lines and trainer.is_global_zero):
            return
        shown = {k: v for k, v in trainer.callback_metrics.items() if k.startswith(("train/loss", "val/"))}
        values = "  ".join(f"{k} {float(v):.4f}" for k, v in sorted(shown.items()) if k != "train/loss_step")
        print(f"epoch {trainer.current_epoch}  step {trainer.global_step}  {values}", flush=True)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.perf_counter()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Stopped by SIGTERM or Ctrl-C: say where training can resume from."""
        if not trainer.is_global_zero or not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        last = saved_checkpoint(trainer, "last")
        resume = f"resume with `{self.command} fit --ckpt_path {last}`" if last else "no checkpoint was written yet"
        why = "SIGTERM" if isinstance(exception, SIGTERMException) else "an interrupt"
        print(f"{self.command}: stopped by {why} at step {trainer.global_step}; {resume}", file=sys.stderr, flush=True)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or not isinstance(pl_module, TwoLayerModule):
            return
        for logger in trainer.loggers:
            logger.save()
        dm = trainer.datamodule
        log_dir = trainer.logger.log_dir if trainer.logger is not None else None
        path, which = reported_checkpoint(trainer)
        model = _with_weights_of(pl_module, path)
        pictures = draw_run_pictures(log_dir, model, dm) if isinstance(dm, TwoLayerDataModule) else []
        print(self.summary(trainer, model, dm, log_dir, path, which, pictures), flush=True)

    def summary(
        self,
        trainer: Trainer,
        model: TwoLayerModule,
        dm: Any,
        log_dir: str | None,
        path: str,
        which: str,
        pictures: list[Path],
    ) -> str:
        elapsed = time.perf_counter() - self._start
        lines = ["", f"Finished after {trainer.global_step} steps ({trainer.current_epoch} epochs) in {elapsed:.1f} s."]
        if path:
            lines.append(f"Scores of {path} ({which}):")
        if isinstance(dm, TwoLayerDataModule):
            for split in ("train", "val", "test"):
                if len(dm.splits.get(split, ())):
                    scores = model.score(*dm.tensors(split))
                    lines.append(f"  {split:<5} " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()))
        if log_dir:
            lines.append(f"Run files: {log_dir}")
        lines += [f"Picture:   {p}" for p in pictures]
        lines += self.next_commands(path, log_dir, dm)
        return "\n".join(lines)

    def next_commands(self, path: str, log_dir: str | None, dm: Any) -> list[str]:
        if not path:
            return []
        lines = ["Next:"]
        if isinstance(dm, TwoLayerDataModule) and len(dm.splits.get("test", ())):
            lines.append(f"  {self.command} test --ckpt_path {path}")
        lines.append(f"  {self.command} predict --ckpt_path {path} --data.dataset FILE.csv")
        if log_dir:
            lines.append(f"  {self.command} plot curves {log_dir}")
        return lines


def _with_weights_of(model: TwoLayerModule, path: str) -> TwoLayerModule:
    """``model``, or a copy holding the weights saved at ``path`` when they differ (best.ckpt)."""
    if not path or Path(path).name == "last.ckpt":  # the final weights
        return model
    state = torch.load(path, map_location=model.device, weights_only=True)["state_dict"]
    twin = copy.deepcopy(model)
    twin.load_state_dict(state)
    return twin


def draw_run_pictures(log_dir: str | None, model: TwoLayerModule, dm: TwoLayerDataModule) -> list[Path]:
    """Learning curves, and the decision boundary when the data has 2 numeric features, in the run's folder."""
    from ..plots import plot_decision_boundary, plot_learning_curves

    if not log_dir or not (Path(log_dir) / "metrics.csv").is_file():
        return []
    run = Path(log_dir)
    pictures = [plot_learning_curves(run)]
    if len(dm.schema.numeric) == dm.n_features == 2:
        X, y = dm.raw_split("train")
        pictures.append(
            plot_decision_boundary(model, X, y, run / "decision_boundary.png", dm.transform, dm.feature_names)
        )
    return pictures


def is_terminal() -> bool:
    return sys.stdout.isatty()
