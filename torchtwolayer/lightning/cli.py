"""``torchtwolayer fit | validate | test | predict``: Lightning's CLI around the module and the data.

``torchtwolayer fit`` with no arguments trains the course's flower: 4 hidden tanh units,
lr 1.2, full-batch gradient descent, 10 000 steps, fixed seeds. A table (CSV or Parquet)
without model flags gets the defaults of :mod:`~torchtwolayer.lightning.defaults`.

Every checkpoint, however it is named (a path, ``last``, ``best``, a ``--config`` file), is
resolved and checked by :meth:`TwoLayerCLI.parse_arguments` before Lightning reads it.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jsonargparse import ActionYesNo
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import (
    EarlyStopping,
    ModelCheckpoint,
    ProgressBar,
    StochasticWeightAveraging,
    TQDMProgressBar,
)
from lightning.pytorch.cli import LightningCLI, LRSchedulerTypeTuple
from lightning.pytorch.plugins.io import CheckpointIO

from ..data.module import TwoLayerDataModule
from ..files import output_path, remove_stale_temporaries
from .callbacks import RunSummary, TableEarlyStopping, is_terminal
from .checkpoints import AtomicCheckpointIO, find_checkpoint, load_checkpoint
from .defaults import RUN_NAME, RUNS, TABULAR, TABULAR_PATIENCE, TRAINER_DEFAULTS, is_table, table_defaults
from .kept import MONITOR, checkpoint_callbacks
from .lr_find import PICTURE, TwoLayerTrainer, find_lr, report
from .module import ARCHITECTURE, DivergenceError, TwoLayerModule
from .profiler import NoProfiler
from .writer import PredictionWriter

PROGRESS_REFRESH_STEPS = 50  # batches between progress-bar refreshes
LINKED = ("n_features", "n_outputs", "task", "target_mean", "target_std")  # data → model, never flags
SPLIT = ("dataset", "seed", "val_fraction", "test_fraction", "stratify", "n_samples", "noise", "target", "features")
HELP = {  # where Lightning's own help describes Lightning's defaults, not this command's
    "trainer.max_steps": "Stop after this number of optimizer steps (-1: no limit; then give --trainer.max_epochs).",
    "trainer.max_epochs": "Stop training after this number of epochs (-1: no limit; a table's default is 100).",
}
DESCRIPTION = "Train, evaluate and use the one-hidden-layer network with the hand-written backward."


class NothingToDoError(Exception):
    """A resumed fit whose checkpoint already reached the step limit: a message, exit 0, no files."""


class TwoLayerCLI(LightningCLI):
    """LightningCLI with the package's checkpoint rules: ``--ckpt_path`` takes a path, ``last`` or
    ``best`` (the newest run's), is checked before use, fixes the architecture and the data's
    transform and split, and lets a resumed fit change only the optimizer's settings."""

    checkpoint: dict[str, Any] | None = None
    verbosity = 0  # -1: only the summary; 1: Lightning's own output too
    command: str | None = None  # the subcommand run, whose parser alone is built (None: every one's)
    run_folder: str | None = None  # the fit's version_N folder, once its trainer is made

    def add_arguments_to_parser(self, parser: Any) -> None:
        for name in LINKED:
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")
        for action in parser._actions:  # argparse keeps no other handle on an argument's help
            if action.dest in HELP:
                action.help = HELP[action.dest]
        parser.add_optimizer_args((torch.optim.Optimizer,))  # only to refuse it in one line (see _refuse_optimizer)
        parser.add_lr_scheduler_args(LRSchedulerTypeTuple)
        parser.link_arguments("lr_scheduler", "model.lr_scheduler", compute_fn=_plain, apply_on="parse")
        parser.add_argument(
            "--output", type=str | None, default=None, help="predict: the CSV file to write; lr-find: the PNG"
        )
        switch = ActionYesNo(no_prefix=None)  # `--overwrite`, no value (commands.py still reads `--overwrite true`)
        parser.add_argument(
            "--overwrite", action=switch, default=False, help="predict, lr-find: replace --output if it exists"
        )

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse, then resolve and check ``ckpt_path`` before Lightning loads it."""
        super().parse_arguments(parser, args)
        sub = self.config.get("subcommand")
        if sub is None:
            return
        config = self.config[sub]
        # what the user gave (flags, config files), before Lightning reads the checkpoint into the config
        given = parser.parse_args(args, defaults=False)[sub]
        self._given_model, self._given_data, self._given_trainer = (
            _as_dict(given.get(group)) for group in ("model", "data", "trainer")
        )
        if config.get("ckpt_path") is not None:
            config.ckpt_path = str(find_checkpoint(config.ckpt_path, *_run_folder(config.trainer.logger)))
            self.checkpoint = load_checkpoint(config.ckpt_path)

    def before_instantiate_classes(self) -> None:
        sub, config = self.subcommand, self.config[self.subcommand]
        if sub not in ("predict", "lr_find") and (config.output is not None or config.overwrite):
            raise ValueError("--output and --overwrite belong to predict and lr-find")
        if sub == "lr_find":
            self.save_config_callback = None
            config.trainer.logger = False  # the finder makes no run folder
        elif sub != "fit":
            self.save_config_callback = None  # a run's config.yaml belongs to training runs
            config.trainer.logger = False  # evaluation makes no run folder
            if self.checkpoint is None:
                raise ValueError(f"{sub} needs a trained model: pass --ckpt_path last, best, or a .ckpt file")
        if sub == "fit":
            _check_stop(config.trainer)
        _refuse_optimizer(config)
        if self.checkpoint is None:
            self._apply_table_defaults(config)
            return
        self._take_from_checkpoint(config, sub)

    @classmethod
    def subcommands(cls) -> dict[str, set[str]]:
        """Lightning's subcommands and ``lr_find``; only :attr:`command` once it is known: each parser
        costs ~0.05 CPU-s to build, and a run parses with one of them."""
        every = {**LightningCLI.subcommands(), "lr_find": {"model", "datamodule"}}
        return {cls.command: every[cls.command]} if cls.command in every else every

    def lr_find(self, model: TwoLayerModule, datamodule: TwoLayerDataModule, **settings: Any) -> None:
        """The ``lr_find`` command (LightningCLI runs this method): the finder, its picture at
        ``--output`` (default ``lr_find.png``), and the suggestion."""
        config = self.config_init[self.subcommand]
        path = output_path(config.output or PICTURE, config.overwrite, PICTURE)
        suggestion, picture = find_lr(self.trainer, model, datamodule, path, **settings)
        if self.trainer.is_global_zero:
            print(report(suggestion, picture), flush=True)

    def _apply_table_defaults(self, config: Any) -> None:
        if not is_table(config.data.dataset):
            return
        given = {"model": self._given_model, "data": self._given_data, "trainer": self._given_trainer}
        for key, value in TABULAR.items():
            group, name = key.split(".")
            if name not in given[group]:
                config[group][name] = value

    def instantiate_classes(self) -> None:
        """Lightning's, then a table's defaults for its task, which is known once the data module has
        read the target: a regression table's model is made again with them (see ``_task_defaults``)."""
        super().instantiate_classes()
        changes = self._task_defaults()
        if changes:
            cls = type(self.model)
            kept = {k: v for k, v in self.model.hparams.items() if k in inspect.signature(cls).parameters}
            self.model = cls(**{**kept, **changes})

    def _task_defaults(self) -> dict[str, Any]:
        """The model settings of :func:`table_defaults` for the data's task that differ from those the
        model was made with (TABULAR's), for the flags not given; also written into the run's config."""
        if self.subcommand != "fit" or self.checkpoint is not None or not is_table(self.datamodule.hparams.dataset):
            return {}
        changes = {}
        for key, value in table_defaults(self.datamodule.task).items():
            group, name = key.split(".")
            if group == "model" and name not in self._given_model and self.model.hparams[name] != value:
                changes[name] = self.config[self.subcommand].model[name] = value
        return changes

    def _take_from_checkpoint(self, config: Any, sub: str) -> None:
        """The architecture, the data's settings and its learned transform from the checkpoint;
        a resumed fit keeps the optimizer settings given now."""
        ckpt = self.checkpoint
        saved_model, saved_data = ckpt["hyper_parameters"], ckpt.get("datamodule_hyper_parameters") or {}
        for name, value in saved_model.items():
            if name in LINKED or name not in config.model:
                continue
            given = self._given_model.get(name, value)
            if given != value and (sub != "fit" or name in ARCHITECTURE):
                raise ValueError(
                    f"the checkpoint was trained with --model.{name} {value}; leave --model.{name} out to use it"
                    + ("" if sub != "fit" else " (a resumed fit may change lr, momentum, nesterov and weight_decay)")
                )
            config.model[name] = given  # (Lightning's own reading of the checkpoint overwrote what was given)
        holdout = self._given_data.get("dataset", saved_data.get("dataset")) != saved_data.get("dataset")
        for name, value in saved_data.items():
            if name == "schema_from" or name not in config.data:
                continue
            given = self._given_data.get(name, value)
            if given != value and name in SPLIT and not holdout:
                raise ValueError(
                    f"the checkpoint was trained with --data.{name} {value!r}, which fixes its split; leave "
                    f"--data.{name} out to {sub} on the same split, or give a hold-out file with --data.dataset"
                )
            config.data[name] = given
        config.data.schema_from = config.ckpt_path
        if holdout and sub in ("validate", "test"):
            config.data.holdout = True
        if sub == "fit":
            self._check_work_left(config)

    def _check_work_left(self, config: Any) -> None:
        max_steps, step = config.trainer.max_steps, self.checkpoint.get("global_step", 0)
        if max_steps is not None and 0 <= max_steps <= step:
            raise NothingToDoError(
                f"{config.ckpt_path} already reached step {step} of --trainer.max_steps {max_steps}: nothing to do. "
                f"To train further, raise the limit, e.g. --trainer.max_steps {max(2 * step, step + 1000)}"
            )

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The package's callbacks, unless the user gave their own of the kind, the atomic checkpoint
        writer, and :class:`~.profiler.NoProfiler` unless a profiler is given."""
        sub, config = self.subcommand, self.config_init[self.subcommand]
        trainer = config.trainer
        given = _as_list(trainer.callbacks)
        extra: list[Any] = []
        epoch_lines = False
        if self.verbosity < 0:
            kwargs["enable_progress_bar"] = False
        elif trainer.enable_progress_bar is not False and not any(isinstance(c, ProgressBar) for c in given):
            if is_terminal():
                extra.append(TQDMProgressBar(refresh_rate=PROGRESS_REFRESH_STEPS, leave=True))
            else:
                kwargs["enable_progress_bar"] = False
                epoch_lines = True
        has_validation = len(self.datamodule.splits.get("val", ())) > 0
        if sub == "fit":
            if trainer.enable_checkpointing is not False and not any(isinstance(c, ModelCheckpoint) for c in given):
                extra += checkpoint_callbacks(has_validation)
            stops_early = any(isinstance(c, EarlyStopping) for c in given)
            if is_table(self.datamodule.hparams.dataset) and has_validation and not stops_early:
                # strict=False: a step limit inside the first epoch stops before any val/loss exists
                extra.append(TableEarlyStopping(MONITOR, patience=TABULAR_PATIENCE, mode="min", strict=False))
            extra.append(RunSummary(epoch_lines=epoch_lines))
            kwargs.update(self._epoch_settings(trainer, given))
        if sub == "predict":
            extra.append(PredictionWriter(config.output, config.overwrite))
        kwargs["callbacks"] = given + extra
        if self.verbosity > 0:
            kwargs.setdefault("enable_model_summary", True)
        if trainer.profiler is None:
            kwargs["profiler"] = NoProfiler()
        plugins = _as_list(trainer.plugins)
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        made = super().instantiate_trainer(**kwargs)
        if sub == "fit" and made.logger is not None:
            TwoLayerCLI.run_folder = made.log_dir  # (a class attribute: the CLI is not returned when fit raises)
        return made

    def _epoch_settings(self, trainer: Any, callbacks: list[Any]) -> dict[str, int]:
        """With StochasticWeightAveraging, which counts epochs, and ``max_epochs`` -1: the epochs
        that the step limit reaches; and Lightning's logging interval capped at an epoch's batches
        unless given."""
        batches = len(self.datamodule.train_dataloader())
        limit = trainer.limit_train_batches
        if limit is not None:
            batches = min(batches, limit) if isinstance(limit, int) else max(1, int(batches * limit))
        settings = {}
        swa = any(isinstance(c, StochasticWeightAveraging) for c in callbacks)
        if swa and trainer.max_epochs == -1 and trainer.max_steps >= 0:
            settings["max_epochs"] = max(
                1, math.ceil(trainer.max_steps / math.ceil(batches / trainer.accumulate_grad_batches))
            )
        if "log_every_n_steps" not in self._given_trainer:
            settings["log_every_n_steps"] = min(trainer.log_every_n_steps or 50, batches)
        return settings


def _check_stop(trainer: Any) -> None:
    """A fit must end: ``max_steps -1`` with ``max_epochs -1`` and no ``max_time`` would run forever."""
    if trainer.max_steps == -1 and trainer.max_epochs == -1 and trainer.max_time is None:
        raise ValueError(
            "--trainer.max_steps -1 with --trainer.max_epochs -1 would train forever; give a limit, "
            "e.g. --trainer.max_steps 10000, --trainer.max_epochs 100 or --trainer.max_time 00:01:00:00"
        )


def _plain(group: Any) -> dict[str, Any] | None:
    """``--lr_scheduler`` as plain values, which the model keeps in its hyperparameters."""
    return None if group is None else {"class_path": group.class_path, "init_args": _as_dict(group.get("init_args"))}


def _refuse_optimizer(config: Any) -> None:
    if config.get("optimizer") is not None:
        raise ValueError(
            f"--optimizer {config.optimizer.class_path.rpartition('.')[2]}: the network trains by the note's update, "
            "SGD (W ← W − α dW); set it with --model.lr, --model.momentum, --model.nesterov and --model.weight_decay, "
            "and a schedule with --lr_scheduler (another optimizer: train TwoLayerNet in your own loop)"
        )


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _as_dict(group: Any) -> dict[str, Any]:
    return group.as_dict() if hasattr(group, "as_dict") else dict(group or {})


def _run_folder(logger: Any) -> tuple[str, str]:
    """The CSV logger's ``save_dir`` and ``name``: where ``last`` and ``best`` are looked for."""
    init = getattr(logger, "init_args", None)
    if init is not None and "save_dir" in init:
        return str(init.save_dir), str(init.get("name") or "lightning_logs")
    return RUNS, RUN_NAME


def lightning_main(args: Sequence[str] | None, verbosity: int = 0) -> TwoLayerCLI:
    """Run the CLI on ``args`` (None: ``sys.argv``); ``verbosity`` -1 quiet, 0 normal, 1 verbose."""

    before = TwoLayerCLI.verbosity, TwoLayerCLI.command  # (class attributes: ddp_spawn pickles the class)
    TwoLayerCLI.verbosity, TwoLayerCLI.command = verbosity, (args[0] if args else None)
    TwoLayerCLI.run_folder = None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # args come from our main
            return TwoLayerCLI(
                TwoLayerModule,
                TwoLayerDataModule,
                seed_everything_default=0,
                auto_configure_optimizers=False,
                trainer_class=TwoLayerTrainer,
                save_config_kwargs={"overwrite": True},
                trainer_defaults=TRAINER_DEFAULTS,
                parser_kwargs={"description": DESCRIPTION, "prog": "torchtwolayer", "exit_on_error": False},
                args=args,
            )
    except DivergenceError:
        _discard_refused_run(TwoLayerCLI.run_folder)
        raise
    finally:
        TwoLayerCLI.verbosity, TwoLayerCLI.command = before


RUN_FILES = ("metrics.csv", "hparams.yaml", "config.yaml", "learning_curves.png", "decision_boundary.png")


def _discard_refused_run(folder: str | None) -> None:
    """A fit that diverged before its first checkpoint leaves no run folder: its files (those a run
    writes, and a killed save's temporaries) are removed, then the folder if nothing else is in it.
    A run that saved a good checkpoint keeps it: the divergence message names it for resuming."""
    if folder is None or not Path(folder).is_dir() or any(Path(folder).glob("checkpoints/*.ckpt")):
        return
    for name in RUN_FILES:
        Path(folder, name).unlink(missing_ok=True)
    checkpoints = Path(folder, "checkpoints")
    if checkpoints.is_dir():
        remove_stale_temporaries(checkpoints)
    for empty in (checkpoints, Path(folder)):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()
