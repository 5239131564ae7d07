"""The data module's arguments checked in one place: before reading, and the split sizes once rows are known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .builtin import BUILTIN
from .tables import PARQUET_SUFFIXES, parse_delimiter
from .values import duplicated

DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".bz2", ".zst", *PARQUET_SUFFIXES)


def check_arguments(hp: Any) -> None:
    """The arguments that can be judged before reading anything (``hp``: the data module's hyperparameters)."""
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
        twice = duplicated(columns)
        if twice:
            raise ValueError(f"--data.{name} names {twice} more than once")
    if hp.delimiter is not None:
        parse_delimiter(hp.delimiter)


def _looks_like_path(dataset: str) -> bool:
    path = Path(dataset)
    return path.exists() or "/" in dataset or any(dataset.lower().endswith(s) for s in DATA_SUFFIXES)


def check_split_sizes(hp: Any, n_train: int, m: int, task: str | None) -> None:
    """The training split the fractions leave out of ``m`` labelled rows is big enough for the task and the batch."""
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
