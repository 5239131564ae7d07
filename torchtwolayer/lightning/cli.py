"""The ``torchtwolayer`` command: ``fit``, ``validate``, ``test``, ``predict`` (LightningCLI) and ``check``.

``torchtwolayer fit`` with no arguments trains the course's flower: 4 hidden
tanh units, lr 1.2, full-batch gradient descent, 10 000 steps, fixed seeds.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningCLI

from ..data.module import TwoLayerDataModule
from .checkpoints import AtomicCheckpointIO, find_last_checkpoint, load_checkpoint
from .module import TwoLayerModule

PROGRESS_REFRESH_STEPS = 50
DESCRIPTION = """Train, evaluate and use the one-hidden-layer network with the hand-written backward.

Also: `torchtwolayer check [--m M --n0 N0 --n1 N1 --n2 N2]` verifies the backward
against autograd and finite differences; `torchtwolayer plot boundary|curves ...` draws
a checkpoint's decision boundary or a run's learning curves; `torchtwolayer export
--ckpt_path CKPT --output model.onnx` writes a run as one ONNX graph (raw features in)."""


class TwoLayerTrainer(Trainer):
    """Lightning's Trainer; its ``predict`` also writes the predictions as a CSV file."""

    def predict(  # type: ignore[override]
        self,
        model: TwoLayerModule | None = None,
        dataloaders: Any = None,
        datamodule: TwoLayerDataModule | None = None,
        return_predictions: bool | None = None,
        ckpt_path: str | None = None,
        output: str | None = None,
        overwrite: bool = False,
    ) -> Any:
        """Predict, and write one CSV row per input row to ``output``.

        Args:
            output: where to write the predictions (default: ``predictions/<data set>.csv``,
                with a number added rather than overwrite an existing file).
            overwrite: replace ``output`` if it exists.
        """
        path = _prediction_path(output, overwrite, datamodule)
        predictions = super().predict(model, dataloaders, datamodule, True, ckpt_path)
        local = torch.cat(predictions) if predictions else torch.empty(0)
        A2 = _gather_in_rank_order(local) if self.world_size > 1 else local
        if datamodule is not None and len(A2) and self.is_global_zero:
            written = datamodule.write_predictions(A2, path)
            print(f"Wrote {len(A2)} predictions to {written}")
        return predictions


def _gather_in_rank_order(local: torch.Tensor) -> torch.Tensor:
    """Every process predicted a contiguous block of the rows, in order: concatenating the
    blocks by rank gives the rows in their original order, as one file."""
    import torch.distributed as dist

    blocks: list[torch.Tensor | None] = [None] * dist.get_world_size()
    dist.all_gather_object(blocks, local.cpu())
    return torch.cat([b for b in blocks if b is not None and len(b)])


def _prediction_path(output: str | None, overwrite: bool, datamodule: TwoLayerDataModule | None) -> Path:
    if output is not None:
        path = Path(output)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} already exists; choose another --output or pass --overwrite true")
        return path
    stem = Path(datamodule.hparams.dataset).stem if datamodule is not None else "predictions"
    path = Path("predictions") / f"{stem}.csv"
    n = 1
    while path.exists():
        path = Path("predictions") / f"{stem}-{n}.csv"
        n += 1
    return path


class TwoLayerCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.link_arguments("data.n_features", "model.n_features", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        """Resolve ``--ckpt_path last``; with a checkpoint, apply its data schema (columns,
        statistics, categories, classes) rather than learn one from the file."""
        config = self.config[self.subcommand]
        if self.subcommand != "fit":
            self.save_config_callback = None  # a run's config.yaml belongs to training runs
        ckpt_path = config.get("ckpt_path")
        if ckpt_path == "last" and self.subcommand == "fit":
            ckpt_path = self._resume_last(config)
        if self.subcommand == "fit" or not ckpt_path:
            return
        load_checkpoint(ckpt_path)
        if config.data.schema_from is None:  # the data transform the model was trained with
            config.data.schema_from = str(ckpt_path)

    def after_instantiate_classes(self) -> None:
        """Build the network now when the data says what it predicts, so every process (and the
        main process of ``ddp_spawn``) holds its parameters from the start."""
        if self.model.net is None and self.datamodule.n_outputs is not None:
            self.model.configure_from(self.datamodule)

    def _resume_last(self, config: Any) -> str:
        """``last`` → the newest run's ``last.ckpt``. The resumed run logs into a new folder, so the
        interrupted run's logs and checkpoints stay as they were."""
        logger = config.trainer.logger
        init = getattr(logger, "init_args", None)
        save_dir, name = (init.save_dir, init.name) if init is not None else ("runs", "torchtwolayer")
        path = find_last_checkpoint(save_dir, name)
        load_checkpoint(path)
        config.ckpt_path = str(path)
        self._parse_ckpt_path()  # the checkpoint's hyperparameters, as Lightning does for a path
        return config.ckpt_path

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Add a quiet progress bar and a checkpoint that keeps ``last.ckpt``, unless the user gave their own."""
        config = self._get(self.config_init, "trainer", default={})
        given = list(config.get("callbacks") or [])
        extra = []
        if config.get("enable_progress_bar", True) is not False and not any(isinstance(c, ProgressBar) for c in given):
            extra.append(TQDMProgressBar(refresh_rate=PROGRESS_REFRESH_STEPS))
        if config.get("enable_checkpointing", True) is not False and not any(
            isinstance(c, ModelCheckpoint) for c in given
        ):
            extra.append(ModelCheckpoint(save_last=True))
        if extra:
            kwargs["callbacks"] = given + extra
        if not config.get("plugins"):
            kwargs["plugins"] = [AtomicCheckpointIO()]
        return super().instantiate_trainer(**kwargs)

    def after_fit(self) -> None:
        log_dir = self.trainer.log_dir  # a collective call under DDP: every process makes it
        saved = _saved_checkpoint(self.trainer)
        if self.trainer.global_step == 0 and saved:
            # ddp_spawn trained in child processes: this process's trainer did not see the
            # steps, but the checkpoint they wrote did
            log_dir = str(Path(saved).parent.parent)
        if self.trainer.is_global_zero:
            pictures = draw_run_pictures(log_dir, self.model, self.datamodule)
            print(fit_summary(self.trainer, log_dir, self.model, self.datamodule, pictures))


def _saved_checkpoint(trainer: Trainer) -> str:
    """The path of the run's last (or best) checkpoint, or "" when none was written."""
    ckpt = trainer.checkpoint_callback
    return (ckpt.last_model_path or ckpt.best_model_path) if ckpt is not None else ""


def draw_run_pictures(log_dir: str | None, model: TwoLayerModule, datamodule: TwoLayerDataModule) -> list[Path]:
    """Learning curves, and the decision boundary when the data has 2 features, in the run's folder."""
    from ..plots import plot_decision_boundary, plot_learning_curves

    if not log_dir or not (Path(log_dir) / "metrics.csv").is_file():
        return []
    run = Path(log_dir)
    pictures = [plot_learning_curves(run)]
    if len(datamodule.schema.numeric) == datamodule.n_features == 2 and datamodule.task is not None:
        X, y = datamodule.raw_split("train")
        pictures.append(
            plot_decision_boundary(
                model, X, y, run / "decision_boundary.png", datamodule.transform, datamodule.feature_names
            )
        )
    return pictures


def fit_summary(
    trainer: Trainer,
    log_dir: str | None,
    model: TwoLayerModule,
    datamodule: TwoLayerDataModule,
    pictures: Sequence[Path] = (),
) -> str:
    """Final loss and metrics on the train and validation splits, and where the run's files are."""
    from .evaluate import evaluate

    saved = _saved_checkpoint(trainer)
    steps, epochs = trainer.global_step, trainer.current_epoch
    if steps == 0 and saved:  # ddp_spawn: the steps were taken in child processes
        state = torch.load(saved, map_location="cpu", weights_only=True)
        steps, epochs = state["global_step"], state["epoch"] + 1
    lines = ["", f"Finished after {steps} steps ({epochs} epochs)."]
    for split in ("train", "val"):
        if len(datamodule.splits.get(split, ())):
            scores = evaluate(model, datamodule, split)
            lines.append(f"  {split:<5} " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    if saved:
        lines.append(f"  checkpoint: {saved}")
    if log_dir:
        lines.append(f"  run files:  {log_dir}")
    lines += [f"  picture:    {p}" for p in pictures]
    return "\n".join(lines)


def lightning_main(args: Sequence[str] | None) -> TwoLayerCLI:
    """Run LightningCLI on ``args``; errors in the input are raised as ValueError/TypeError/OSError."""
    _check_ckpt_argument(sys.argv[1:] if args is None else args)
    return TwoLayerCLI(
        TwoLayerModule,
        TwoLayerDataModule,
        trainer_class=TwoLayerTrainer,
        seed_everything_default=0,
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "max_steps": 10_000,
            "max_epochs": -1,
            "log_every_n_steps": 50,
            "default_root_dir": "runs",
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": "runs", "name": "torchtwolayer"},
            },
            "accelerator": "auto",
            "devices": 1,
        },
        parser_kwargs={"description": DESCRIPTION},
        args=args,
    )


def _check_ckpt_argument(argv: Sequence[str]) -> None:
    """A ``--ckpt_path`` file is checked before Lightning reads it, for a clear error."""
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--ckpt_path" and i + 1 < len(argv) else None
        if arg.startswith("--ckpt_path="):
            value = arg.split("=", 1)[1]
        if value not in (None, "last", "best", "hpc", "registry", "null", "None"):
            load_checkpoint(value)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the ``torchtwolayer`` console script; returns the exit status."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r"The dirpath has changed from")
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["check"]:
        from ..check import main as check_main

        return check_main(argv[1:])
    if argv[:1] == ["plot"]:
        from .plot_command import main as plot_main

        return plot_main(argv[1:])
    if argv[:1] == ["export"]:
        from ..export import main as export_main

        return export_main(argv[1:])
    try:
        lightning_main(None if args is None else argv)  # None: LightningCLI reads sys.argv itself
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as error:
        if os.environ.get("TORCHTWOLAYER_DEBUG"):
            raise
        print(f"torchtwolayer: error: {error}", file=sys.stderr)
        return 2
    return 0
