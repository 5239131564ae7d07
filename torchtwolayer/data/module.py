"""``TwoLayerDataModule``: a built-in 2-D data set, or a CSV or Parquet file, held in memory.

The data set is a built-in name (``planar``, ``moons``, ``circles``, ``blobs``,
``gaussian_quantiles``, ``xor``) or a path: ``.csv`` (also ``.csv.gz``), ``.parquet``, or a
directory of Parquet files. The file is read through Apache Arrow, only the columns used
(:mod:`~torchtwolayer.data.tables`); a :class:`~torchtwolayer.data.schema.Schema` learns the transform to
the network's inputs and targets from the training split and is the module's ``state_dict``,
which Lightning stores in every checkpoint, so ``validate``, ``test`` and ``predict`` on a new
file apply the same transform (``schema_from``, set by the command from ``--ckpt_path``).

X is one float32 (m, n_inputs) matrix with the rows in split order (train, val, test), so
each split is a view of it, not a copy. Classification splits are stratified by class.
Under a data-parallel strategy each process trains on its own share of every batch (see
:class:`~torchtwolayer.data.loader.InMemoryBatches`); validation, test and prediction rows are split
across processes in contiguous blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor

from ..checkpoint_file import DATA_STATE_KEY, load_checkpoint
from ..core.tasks import rows_per_chunk
from .arguments import check_arguments, check_split_sizes
from .builtin import BUILTIN, make_dataset
from .fingerprint import check_fingerprint, fingerprint, matches, same_path
from .loader import InMemoryBatches
from .schema import Impute, Schema, TaskChoice
from .schema_state import check_state
from .splits import split_rows, warn_missing_classes
from .tables import CSVFormatError, Table, from_arrays, open_table
from .values import name_few

FINGERPRINT_KEY = "fingerprint"  # the training file's fingerprint in the data module's state
TABLE_BATCH_SIZE = 32  # a file's default mini-batch (scripts/tabular_defaults.py measures it)
log = logging.getLogger(__name__)


class TwoLayerDataModule(LightningDataModule):
    """In-memory data for :class:`~torchtwolayer.lightning.module.TwoLayerModule`.

    Args:
        dataset: a built-in data set name, or the path of a CSV or Parquet file (or a
            directory of Parquet files).
        target: the column to predict (default: the last column).
        features: the feature columns (default: all the others); only these are read.
        task: ``auto`` infers it from the target: two values → ``binary``; text, booleans or at
            most ``max_classes`` integer values → ``multiclass``; otherwise ``regression``.
        n_samples: points generated for a built-in data set.
        noise: noise of a built-in data set (``None``: its default).
        val_fraction: share of rows held out for validation.
        test_fraction: share of rows held out for testing.
        batch_size: rows per step; 0 means full batch, the note's gradient descent. ``None``
            (the default): full batch for a built-in set, and for a file ``TABLE_BATCH_SIZE``
            rows, or all the training rows when there are fewer.
        full_batch_steps: steps per epoch in full-batch mode.
        shuffle: reshuffle the training rows every epoch.
        standardize: scale numeric features (and a regression target) to zero mean and unit
            variance, with statistics of the training split.
        seed: seed of the data set, the split and the batch order.
        max_classes: most distinct integer targets still inferred as classes.
        categorical: integer columns to one-hot encode (text columns always are).
        impute: ``none``: missing feature values are an error; ``median``: fill numbers with the
            training split's median, give categories a "missing" category.
        max_categories: most categories of a one-hot encoded column; more is refused.
        delimiter: the CSV separator (default ``,``; e.g. ``;``, ``|``, ``\\t``).
        stratify: split classification data class by class, so every split keeps the class mix.
        schema_from: a checkpoint whose learned transform (columns, statistics, categories,
            classes) to apply instead of learning one; the command sets it from ``--ckpt_path``.
            The checkpoint's own training file (``dataset`` as stored in it) is read only if it
            still holds the bytes fingerprinted at fit (size and SHA-256, :attr:`fingerprint`).
        holdout: the file is a hold-out set: every labelled row is in the validation and test
            splits, none in training (the command sets it when a checkpoint is tested on
            another file than its own).
    """

    def __init__(
        self,
        dataset: str = "planar",
        target: str | None = None,
        features: list[str] | None = None,
        task: TaskChoice = "auto",
        n_samples: int = 400,
        noise: float | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        batch_size: int | None = None,
        full_batch_steps: int = 100,
        shuffle: bool = True,
        standardize: bool = True,
        seed: int = 1,
        max_classes: int = 20,
        categorical: list[str] | None = None,
        impute: Impute = "none",
        max_categories: int = 100,
        delimiter: str | None = None,
        stratify: bool = True,
        schema_from: str | None = None,
        holdout: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # the run's logged hparams are the model's
        check_arguments(self.hparams)
        self.X: Tensor | None = None  # (m, n_inputs), rows in split order
        self.Y: Tensor | None = None
        self.splits: dict[str, Tensor] = {}
        self._bounds: dict[str, tuple[int, int]] = {}
        self._rows: np.ndarray | None = None
        self._ready: dict[str, tuple[Tensor, Tensor]] = {}
        self.schema: Schema | None = None
        self.fingerprint: dict[str, Any] | None = None  # of the training file, taken at fit
        self._unverified = False  # the checkpoint's own file, without a fingerprint to check it against
        if schema_from is not None:  # the checkpoint's transform; the data is read at setup
            self.schema = Schema.from_state(self._checkpoint_state(schema_from))
            with self._guarded():
                self._check_against_schema(self.read_table())
        else:  # learn it now: the model needs the number of inputs and outputs
            self.schema = self._prepare(with_target=True)
            if not len(self.Y):  # only a checkpoint's transform can serve a file without the target
                self._no_target()
            if dataset not in BUILTIN and type(self).read_table is TwoLayerDataModule.read_table:
                self.fingerprint = fingerprint(dataset)

    def _checkpoint_state(self, path: str) -> dict[str, Any]:
        """The checkpoint's schema state, checked; and its training file's fingerprint, checked
        against the file to read when that is the checkpoint's own file."""
        ckpt = load_checkpoint(path)
        state, hp = ckpt[DATA_STATE_KEY], ckpt["hyper_parameters"]
        try:
            check_state(state, int(hp["n_features"]), int(hp["n_outputs"]))
            stored = state.get(FINGERPRINT_KEY)
            self.fingerprint = None if stored is None else check_fingerprint(stored)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        dataset = self.hparams.dataset
        saved = (ckpt.get("datamodule_hyper_parameters") or {}).get("dataset")
        if dataset in BUILTIN or not (dataset == saved or (stored is not None and same_path(stored, dataset))):
            return state  # a built-in set, or a file named on the command line
        if stored is None:
            log.warning(
                f"note: {path} was written before checkpoints stored a fingerprint of their training file; "
                f"{dataset} is read as that file, unchecked"
            )
            self._unverified = True
        elif not matches(stored, dataset):  # by content: the same file, or a copy of it
            raise ValueError(
                f"{dataset} is not the file {path} was trained on: it changed since (size or SHA-256), or the "
                "checkpoint was edited, so its rows and split are not the trained ones. Use the file as it was, "
                "train a new run (fit without --ckpt_path), or score this file as a hold-out set under another name"
            )
        return state

    # ---------------------------------------------------------------- reading
    def read_table(self) -> Table:
        """The data: the built-in set generated from the seed, or the file (columns not read yet).
        Override it to train on other data, e.g. ``tables.from_arrays({...})``."""
        hp = self.hparams
        if hp.dataset in BUILTIN:
            X, y = make_dataset(hp.dataset, hp.n_samples, hp.noise, hp.seed)
            return from_arrays({"x1": X[:, 0].numpy(), "x2": X[:, 1].numpy(), "label": y.numpy()}, hp.dataset)
        with self._guarded():
            return open_table(hp.dataset, hp.delimiter)

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """An unverified file (see ``_checkpoint_state``) may not be a data table: its errors say so
        without quoting any of it (a header or a cell)."""
        try:
            yield
        except CSVFormatError:
            if not self._unverified:
                raise
            raise CSVFormatError(
                f"{self.hparams.dataset} cannot be read as the data the checkpoint was trained on (not a table with "
                "its columns); name the data file with --data.dataset"
            ) from None

    def _prepare(self, with_target: bool) -> Schema:
        """Read the columns used, learn the schema if there is none yet, and build X, Y and the splits."""
        with self._guarded():
            return self._prepare_table(self.read_table(), with_target)

    def _prepare_table(self, table: Table, with_target: bool) -> Schema:
        schema = self.schema if self.schema is not None else self._new_schema(table)
        has_target = with_target and schema.target_name in table.names
        columns = [*schema.feature_names, *([schema.target_name] if has_target else [])]
        categorical = set(schema.categorical)
        table.load(columns, numbers=[c for c in schema.feature_names if c not in categorical], read_once=True)
        if table.num_rows == 0:
            raise CSVFormatError(f"{table.path}: no data rows below the header; the file needs at least one example")
        if not has_target:
            X = (schema.transform(table) if schema.fitted else schema.fit_transform(table)).X
            self._keep(X, torch.empty(0), {"predict": (0, len(X))})
            return schema
        y = schema.target_values(table) if schema.fitted else schema.fit_target(table)
        rows, bounds = self._split(y, schema)
        if schema.fitted:
            X = schema.transform(table, rows).X
        else:
            schema.fit_target_scale(y[rows[: bounds["train"][1]]])
            X = schema.fit_transform(table, rows, bounds["train"][1]).X
        self._keep(X, schema.encode(y[rows]), bounds, rows)
        return schema

    def _new_schema(self, table: Table) -> Schema:
        """A schema (to be fitted) for the columns the arguments name, checked against the table."""
        hp = self.hparams
        target = hp.target if hp.target is not None else table.names[-1]
        features = list(hp.features) if hp.features is not None else [c for c in table.names if c != target]
        table.require(features)
        if target in features:
            raise CSVFormatError(f"{table.path}: the target {target!r} cannot also be a feature")
        if not features:
            raise CSVFormatError(f"{table.path}: no feature columns left besides the target {target!r}")
        if "" in features:
            raise CSVFormatError(
                f"{table.path}: column {table.names.index('') + 1} of the header has no name; name it, or leave it "
                "out with --data.features"
            )
        if hp.features is not None:
            _note_unused(table, features, target)
        return Schema(
            features, target, hp.task, hp.categorical or (), hp.impute, hp.standardize, hp.max_classes,
            hp.max_categories,
        )  # fmt: skip

    def _check_against_schema(self, table: Table) -> None:
        """The arguments and the file agree with the checkpoint's schema."""
        hp, schema = self.hparams, self.schema
        for name, given, saved in (
            ("features", hp.features, schema.feature_names),
            ("target", hp.target, schema.target_name),
            ("task", None if hp.task == "auto" else hp.task, schema.task),
        ):
            if given is not None and given != saved:
                raise ValueError(
                    f"the checkpoint was trained with {name} {saved!r} but --data.{name} gives {given!r}; "
                    f"leave --data.{name} out to use the checkpoint's"
                )
        table.require(schema.feature_names, " (the checkpoint's model was trained on them)")
        _note_unused(table, schema.feature_names, schema.target_name)

    # ---------------------------------------------------------------- splits
    def _split(self, y: np.ndarray, schema: Schema) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        """The labelled rows in split order (train, val, test; each in file order), and each
        split's rows of X. Rows without a target are left out, with a note."""
        hp, task = self.hparams, schema.task
        labelled = np.flatnonzero(y >= 0) if task != "regression" else np.flatnonzero(~np.isnan(y))
        if len(labelled) < len(y):
            left_out = "evaluation" if hp.holdout else "training and evaluation"
            log.warning(
                f"note: {len(y) - len(labelled)} of {len(y)} rows have no value of the target "
                f"{schema.target_name!r}; they are left out of {left_out} (predict keeps them)"
            )
        m = len(labelled)
        if hp.holdout:
            return labelled, {"train": (0, 0), "val": (0, m), "test": (0, m)}
        generator = torch.Generator().manual_seed(hp.seed)
        classes = task in ("binary", "multiclass")
        parts = split_rows(
            y[labelled], round(hp.val_fraction * m), round(hp.test_fraction * m),
            lambda n: torch.randperm(n, generator=generator).numpy(), stratify=classes and hp.stratify,
        )  # fmt: skip
        check_split_sizes(hp, len(parts[0]), m, task)
        if classes:
            warn_missing_classes(y[labelled], parts[0], len(schema.classes))
        ends = np.cumsum([len(p) for p in parts])
        bounds = {"train": (0, ends[0]), "val": (ends[0], ends[1]), "test": (ends[1], ends[2])}
        return labelled[np.concatenate(parts)], {k: (int(a), int(b)) for k, (a, b) in bounds.items()}

    def _keep(
        self, X: np.ndarray, Y: Tensor, bounds: dict[str, tuple[int, int]], rows: np.ndarray | None = None
    ) -> None:
        """X, Y and the splits' rows of X; ``rows``: the file rows of X's rows (predict puts them back in order)."""
        self.X, self.Y, self._rows = torch.from_numpy(X), Y, rows
        self.splits = {name: torch.arange(a, b) for name, (a, b) in bounds.items()}
        self._bounds = bounds
        self._ready.clear()

    # ---------------------------------------------------------- what the model needs
    @property
    def feature_names(self) -> list[str]:
        return self.schema.feature_names

    @property
    def target_name(self) -> str | None:
        return self.schema.target_name

    @property
    def task(self) -> str | None:
        return self.schema.task

    @property
    def classes(self) -> list | None:
        return self.schema.classes

    @property
    def n_features(self) -> int:
        """The network's inputs n0 (numeric columns, plus one per category of each categorical column)."""
        return self.schema.n_inputs

    @property
    def n_outputs(self) -> int | None:
        """1 for binary and regression, the number of classes for multiclass, None if unknown."""
        return self.schema.n_outputs

    @property
    def batch_size(self) -> int:
        """Rows per training step (0: full batch), with ``None`` resolved (see the class's Args)."""
        if self.hparams.batch_size is not None:
            return self.hparams.batch_size
        if self.hparams.dataset in BUILTIN:
            return 0
        n_train = len(self.splits.get("train", ()))
        return TABLE_BATCH_SIZE if n_train > TABLE_BATCH_SIZE else 0

    @property
    def target_mean(self) -> float:
        """The regression target's training mean (0 otherwise): the model reports metrics in target units."""
        return float(self.schema.y_mean)

    @property
    def target_std(self) -> float:
        return float(self.schema.y_std)

    def setup(self, stage: str) -> None:
        with_target = stage != "predict"
        if self.X is None or (with_target and not len(self.Y)):
            self._prepare(with_target)
        if with_target and not len(self.Y):
            self._no_target()

    def _no_target(self) -> None:
        self.read_table().require_target(self.target_name)

    # -------------------------------------------------------------- tensors
    def tensors(self, split: str) -> tuple[Tensor, Tensor]:
        """Model-ready X and Y of ``split`` (Y is empty when the data has no target)."""
        if self.X is None:
            self._prepare(with_target=split != "predict")
        if split not in self._ready:
            if split == "predict" and split not in self._bounds:  # X's rows back in file order
                self.splits[split] = torch.from_numpy(np.argsort(self._rows, kind="stable"))
            if split in self._bounds:
                a, b = self._bounds[split]
                self._ready[split] = (self.X[a:b], self.Y[a:b] if len(self.Y) else self.Y)
            else:
                idx = self.splits[split]
                self._ready[split] = (self.X[idx], self.Y[idx] if len(self.Y) else self.Y)
        return self._ready[split]

    def transform(self, X: Tensor) -> Tensor:
        """Raw inputs → model inputs, with the training split's statistics."""
        return self.schema.standardize_inputs(X)

    def raw_split(self, split: str) -> tuple[Tensor, Tensor]:
        """Raw inputs of ``split`` and its target (class indices, or values in target units), for pictures."""
        X, Y = self.tensors(split)
        if self.task == "regression" and len(Y):
            Y = Y.double() * self.schema.y_std + self.schema.y_mean
        return self.schema.raw_inputs(X), Y

    def decode(self, A2: Tensor) -> dict[str, np.ndarray]:
        """Model outputs A2 → prediction columns in the target's own values."""
        return self.schema.decode(A2)

    def write_predictions(self, A2: Tensor, path: str | Path) -> Path:
        """One CSV row per input row: the prediction, then class probabilities; written atomically."""
        from ..files import write_csv_atomically

        return write_csv_atomically(path, self.decode(A2))

    # ------------------------------------------------------------ dataloaders
    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> InMemoryBatches:
        X, Y = self.tensors("train")
        rank, world = self._rank()
        hp = self.hparams
        return InMemoryBatches(
            X, Y, self.batch_size, hp.shuffle, hp.seed,
            epoch=lambda: self.trainer.current_epoch if self.trainer is not None else 0,
            rank=rank, world_size=world, full_batch_steps=hp.full_batch_steps,
        )  # fmt: skip

    def _eval_batches(self, split: str) -> InMemoryBatches:
        """This process's contiguous block of ``split``, in order, in large batches (whose outputs
        stay within ``EVAL_OUTPUTS`` values, whatever the number of classes)."""
        X, Y = self.tensors(split)
        rank, world = self._rank()
        block = slice(rank * -(-len(X) // world), (rank + 1) * -(-len(X) // world))
        rows = rows_per_chunk(self.n_outputs or 1)
        return InMemoryBatches(X[block], Y[block] if len(Y) else Y, rows, shuffle=False)

    def val_dataloader(self) -> InMemoryBatches | list:
        return self._eval_batches("val") if len(self.splits.get("val", ())) else []  # []: no validation

    def test_dataloader(self) -> InMemoryBatches:
        if not len(self.splits.get("test", ())):
            raise ValueError("there is no test split: set --data.test_fraction above 0 (e.g. 0.2)")
        return self._eval_batches("test")

    def predict_dataloader(self) -> InMemoryBatches:
        return self._eval_batches("predict")

    # ------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        """The schema's state, and the training file's fingerprint (``fingerprint``: path, size,
        sha256) when there is one: plain values only, so checkpoints load with ``torch.load(weights_only=True)``."""
        state = self.schema.state_dict()
        if self.fingerprint is not None:
            state[FINGERPRINT_KEY] = dict(self.fingerprint)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take a checkpoint's schema; X is rebuilt with it when it differs from this one's."""
        state = {k: v for k, v in state.items() if k != FINGERPRINT_KEY}
        if self.schema.fitted and state == self.schema.state_dict():
            return
        given = self.hparams.features
        if given is not None and list(state["feature_names"]) != list(given):
            raise ValueError(
                f"the checkpoint was trained on features {state['feature_names']} but the data has "
                f"{list(given)}; give the same columns (--data.features)"
            )
        self.schema = Schema.from_state(state)
        self.X, self.Y, self.splits, self._bounds = None, None, {}, {}
        self._ready.clear()


def _note_unused(table: Table, features: list[str], target: str | None) -> None:
    used = {*features, target}
    unused = [c for c in table.names if c not in used]
    if unused:
        log.warning(f"note: {table.path}: columns {name_few(unused)} are not features; they are not read")
