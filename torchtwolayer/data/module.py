"""``TwoLayerDataModule``: a built-in 2-D data set, or a CSV or Parquet file, held in memory.

The data set is a built-in name (``planar``, ``moons``, ``circles``, ``blobs``,
``gaussian_quantiles``, ``xor``) or a path: ``.csv`` (also ``.csv.gz``), ``.parquet``, or a
directory of Parquet files. The file is read through Apache Arrow, only the columns used
(:mod:`~torchtwolayer.tables`); a :class:`~torchtwolayer.schema.Schema` learns the transform to
the network's inputs and targets from the training split and is the module's ``state_dict``,
which Lightning stores in every checkpoint, so ``validate``, ``test`` and ``predict`` on a new
file apply the same transform (``schema_from``, set by the command from ``--ckpt_path``).

X is one float32 (m, n_inputs) matrix with the rows in split order (train, val, test), so
each split is a view of it, not a copy. Classification splits are stratified by class.
Under a data-parallel strategy each process trains on its own share of every batch (see
:class:`~torchtwolayer.loader.InMemoryBatches`); validation, test and prediction rows are split
across processes in contiguous blocks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor

from .builtin import BUILTIN, make_dataset
from .loader import InMemoryBatches
from .schema import Impute, Schema, TaskChoice
from .tables import PARQUET_SUFFIXES, CSVFormatError, Table, from_arrays, open_table, parse_delimiter

EVAL_BATCH = 65536
TABLE_BATCH_SIZE = 32  # a file's default mini-batch (scripts/tabular_defaults.py measures it)
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".bz2", ".zst", *PARQUET_SUFFIXES)
log = logging.getLogger(__name__)


class TwoLayerDataModule(LightningDataModule):
    """In-memory data for :class:`~torchtwolayer.lightning_module.TwoLayerModule`.

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
        holdout: the file is a hold-out set: every labelled row is in the validation and test
            splits, none in training (the command sets it when a checkpoint is tested on
            another file than its own).
    """

    values_checked = True  # every value was checked when read: the LightningModule need not check batches again

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
        _check_arguments(self.hparams)
        self.X: Tensor | None = None  # (m, n_inputs), rows in split order
        self.Y: Tensor | None = None
        self.splits: dict[str, Tensor] = {}
        self._bounds: dict[str, tuple[int, int]] = {}
        self._rows: np.ndarray | None = None
        self._ready: dict[str, tuple[Tensor, Tensor]] = {}
        self.schema: Schema | None = None
        if schema_from is not None:  # the checkpoint's transform; the data is read at setup
            self.schema = Schema.from_state(_schema_state(schema_from))
            self._check_against_schema(self.read_table())
        else:  # learn it now: the model needs the number of inputs and outputs
            self.schema = self._prepare(with_target=True)
            if not len(self.Y):  # only a checkpoint's transform can serve a file without the target
                self._no_target()

    # ---------------------------------------------------------------- reading
    def read_table(self) -> Table:
        """The data: the built-in set generated from the seed, or the file (columns not read yet).
        Override it to train on other data, e.g. ``tables.from_arrays({...})``."""
        hp = self.hparams
        if hp.dataset in BUILTIN:
            X, y = make_dataset(hp.dataset, hp.n_samples, hp.noise, hp.seed)
            return from_arrays({"x1": X[:, 0].numpy(), "x2": X[:, 1].numpy(), "label": y.numpy()}, hp.dataset)
        return open_table(hp.dataset, hp.delimiter)

    def _prepare(self, with_target: bool) -> Schema:
        """Read the columns used, learn the schema if there is none yet, and build X, Y and the splits."""
        table = self.read_table()
        schema = self.schema if self.schema is not None else self._new_schema(table)
        has_target = with_target and schema.target_name in table.names
        columns = [*schema.feature_names, *([schema.target_name] if has_target else [])]
        categorical = set(schema.categorical)
        table.load(columns, numbers=[c for c in schema.feature_names if c not in categorical], read_once=True)
        if table.num_rows == 0:
            raise CSVFormatError(f"{table.path}: no data rows below the header; the file needs at least one example")
        if not has_target:
            X = schema.transform(table) if schema.fitted else schema.fit_transform(table)
            self._keep(X, torch.empty(0), {"predict": (0, len(X))})
            return schema
        y = schema.target_values(table) if schema.fitted else schema.fit_target(table)
        rows, bounds = self._split(y, schema)
        if schema.fitted:
            X = schema.transform(table, rows)
        else:
            schema.fit_target_scale(y[rows[: bounds["train"][1]]])
            X = schema.fit_transform(table, rows, bounds["train"][1])
        self._keep(X, schema.encode(y[rows]), bounds, rows)
        return schema

    def _new_schema(self, table: Table) -> Schema:
        """A schema (to be fitted) for the columns the arguments name, checked against the table."""
        hp = self.hparams
        target = hp.target if hp.target is not None else table.names[-1]
        features = list(hp.features) if hp.features is not None else [c for c in table.names if c != target]
        missing = [c for c in features if c not in table.names]
        if missing:
            raise CSVFormatError(f"{table.path}: feature columns {missing} not found; the file has {table.names}")
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
        missing = [c for c in schema.feature_names if c not in table.names]
        if missing:
            raise CSVFormatError(
                f"{table.path}: feature columns {missing} not found; the model was trained on "
                f"{schema.feature_names} and the file has {table.names}"
            )
        _note_unused(table, schema.feature_names, schema.target_name)

    # ---------------------------------------------------------------- splits
    def _split(self, y: np.ndarray, schema: Schema) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
        """The labelled rows in split order (train, val, test; each in file order), and each
        split's rows of X. Rows without a target are left out, with a note."""
        hp, task = self.hparams, schema.task
        labelled = np.flatnonzero(y >= 0) if task != "regression" else np.flatnonzero(~np.isnan(y))
        if len(labelled) < len(y):
            log.warning(
                f"note: {len(y) - len(labelled)} of {len(y)} rows have no value of the target "
                f"{schema.target_name!r}; they are left out of training and evaluation (predict keeps them)"
            )
        m = len(labelled)
        if hp.holdout:
            return labelled, {"train": (0, 0), "val": (0, m), "test": (0, m)}
        n_val, n_test = round(hp.val_fraction * m), round(hp.test_fraction * m)
        generator = torch.Generator().manual_seed(hp.seed)
        classes = task in ("binary", "multiclass")
        if classes and hp.stratify:
            part = _stratified(y[labelled], n_val, n_test, generator)
        else:
            order = torch.randperm(m, generator=generator).numpy()
            part = np.zeros(m, dtype=np.int8)  # 0 train, 1 val, 2 test
            part[order[m - n_val - n_test : m - n_test]], part[order[m - n_test :]] = 1, 2
        parts = [np.flatnonzero(part == k) for k in range(3)]  # each in file order
        n_train = len(parts[0])
        if n_train < 1:
            raise ValueError(
                f"val_fraction={hp.val_fraction} and test_fraction={hp.test_fraction} leave no training "
                f"rows out of {m}; lower them"
            )
        if task == "regression" and n_train < 2:
            raise ValueError(
                f"regression needs at least 2 training rows to learn the target's scale, got {n_train} of {m}; "
                "give more rows, or lower --data.val_fraction and --data.test_fraction"
            )
        if hp.batch_size is not None and hp.batch_size > n_train:
            raise ValueError(
                f"batch_size={hp.batch_size} is larger than the {n_train} training rows; "
                "use a smaller batch size, or 0 for full batch"
            )
        if classes:
            _warn_missing_classes(y[labelled], parts[0], len(schema.classes))
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
        table = self.read_table()
        raise CSVFormatError(
            f"{table.path}: target column {self.target_name!r} not found; the file has "
            f"columns {table.names}. Name the target with --data.target"
        )

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
        """This process's contiguous block of ``split``, in order, in large batches."""
        X, Y = self.tensors(split)
        rank, world = self._rank()
        block = slice(rank * -(-len(X) // world), (rank + 1) * -(-len(X) // world))
        return InMemoryBatches(X[block], Y[block] if len(Y) else Y, EVAL_BATCH, shuffle=False)

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
        """The schema's state: plain values only, so checkpoints load with ``torch.load(weights_only=True)``."""
        return self.schema.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take a checkpoint's schema; X is rebuilt with it when it differs from this one's."""
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


def _schema_state(path: str) -> dict[str, Any]:
    from ..lightning.checkpoints import load_checkpoint

    return load_checkpoint(path)[TwoLayerDataModule.__qualname__]


def _stratified(labels: np.ndarray, n_val: int, n_test: int, generator: torch.Generator) -> np.ndarray:
    """Each row's split (0 train, 1 val, 2 test), each class in proportion (largest remainders)
    and keeping at least one training row."""
    sizes = np.bincount(labels)
    present = np.flatnonzero(sizes)
    val, test = np.zeros_like(sizes), np.zeros_like(sizes)
    val[present], test[present] = _apportion(n_val, sizes[present]), _apportion(n_test, sizes[present])
    over = np.maximum(val + test - (sizes - 1), 0)  # keep a training row of each class
    cut = np.minimum(test, over)
    test, val = test - cut, val - (over - cut)
    part = np.zeros(len(labels), dtype=np.int8)
    for c in present:
        rows = np.flatnonzero(labels == c)
        rows = rows[torch.randperm(len(rows), generator=generator).numpy()]
        n_train = sizes[c] - val[c] - test[c]
        part[rows[n_train : n_train + val[c]]], part[rows[n_train + val[c] :]] = 1, 2
    return part


def _apportion(total: int, sizes: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``sizes``: floors, then one more to the largest remainders."""
    quota = total * sizes / sizes.sum()
    share = np.floor(quota).astype(np.int64)
    extra = np.argsort(-(quota - share), kind="stable")[: total - share.sum()]
    share[extra] += 1
    return share


def _warn_missing_classes(labels: np.ndarray, train: np.ndarray, n_classes: int) -> None:
    present = np.count_nonzero(np.bincount(labels[train], minlength=n_classes))
    total = np.count_nonzero(np.bincount(labels, minlength=n_classes))
    if present < total:
        log.warning(
            f"warning: the training split holds {present} of the {total} classes; the model cannot "
            "learn the others. Stratified splitting (--data.stratify true, the default) keeps every class in it"
        )


def _note_unused(table: Table, features: list[str], target: str | None) -> None:
    unused = [c for c in table.names if c not in features and c != target]
    if unused:
        log.warning(f"note: {table.path}: columns {unused} are not features; they are not read")


def _check_arguments(hp: Any) -> None:
    dataset = hp.dataset
    if not isinstance(dataset, str) or not dataset:
        raise ValueError("dataset must be a built-in name or the path of a CSV or Parquet file")
    if dataset not in BUILTIN and not _looks_like_path(dataset):
        raise ValueError(
            f"unknown data set {dataset!r}: expected one of {sorted(BUILTIN)} or the path of a .csv or .parquet file"
        )
    for name in ("val_fraction", "test_fraction"):
        if not 0 <= hp[name] < 1:
            raise ValueError(f"{name} must be in [0, 1), got {hp[name]}")
    if hp.val_fraction + hp.test_fraction >= 1:
        raise ValueError(
            "val_fraction + test_fraction must be below 1 to leave training rows, "
            f"got {hp.val_fraction} + {hp.test_fraction}"
        )
    if hp.batch_size is not None and hp.batch_size < 0:
        raise ValueError(f"batch_size must be a positive number of rows, or 0 for full batch; got {hp.batch_size}")
    if hp.full_batch_steps < 1:
        raise ValueError(f"full_batch_steps must be at least 1, got {hp.full_batch_steps}")
    if hp.max_categories < 1 or hp.max_classes < 2:
        raise ValueError(f"max_categories must be ≥ 1 and max_classes ≥ 2, got {hp.max_categories}, {hp.max_classes}")
    for name in ("features", "categorical"):
        columns = hp[name]
        if columns is None:
            continue
        if name == "features" and not columns:
            raise ValueError(
                "--data.features is an empty list; name at least one column, or leave it out to use every "
                "column but the target"
            )
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise ValueError(f"--data.{name} names {duplicated} more than once")
    if hp.delimiter is not None:
        parse_delimiter(hp.delimiter)


def _looks_like_path(dataset: str) -> bool:
    path = Path(dataset)
    return path.exists() or "/" in dataset or any(dataset.lower().endswith(s) for s in DATA_SUFFIXES)
