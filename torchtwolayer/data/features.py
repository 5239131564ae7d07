"""The feature part of the schema: how feature columns become the float32 matrix X, learned from the training rows.

Numeric columns come first, in the order given, standardised with the training split's statistics,

.. math::
    x' = \\frac{x - \\bar{x}}{s}, \\qquad
    \\bar{x} = \\frac{1}{m_{train}} \\sum_i x_i, \\qquad
    s = \\sqrt{\\frac{1}{m_{train}} \\sum_i (x_i - \\bar{x})^2}

(computed in float64; a constant column has s = 0 and is given s = 1, so it becomes exactly 0),
then one 0/1 column per category of each categorical column (text, booleans when named in
``categorical``, integer columns named there, Arrow dictionaries). A category never seen in
training encodes as all zeros. Missing values are refused, or with ``impute="median"`` filled
with the training split's median (numbers) or given their own category (categories).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor

from .table import CSVFormatError, Table
from .values import NAMED, index_table, is_number, label_text, name_few, shorten

IMPUTE = ("none", "median")
Impute = Literal[IMPUTE]  # type: ignore[valid-type]
CATEGORY_KINDS = ("text", "category")  # always categorical
NUMBER_KINDS = ("number", "integer", "boolean")  # numeric unless named categorical
MISSING = "<missing>"  # the input name of the category of missing values
log = logging.getLogger(__name__)


@dataclass
class Column:
    """How one feature column becomes inputs: a standardised number, or one-hot categories."""

    name: str
    kind: Literal["numeric", "categorical"]
    mean: float = 0.0
    std: float = 1.0
    fill: float | None = None  # numeric: the value that replaces a missing one
    categories: list = field(default_factory=list)
    missing_category: bool = False  # categorical: an extra input for missing values

    def state(self) -> dict[str, Any]:
        """The fields as a plain dict (``dataclasses.asdict`` without its deep copies: thousands of columns)."""
        return {
            "name": self.name, "kind": self.kind, "mean": self.mean, "std": self.std, "fill": self.fill,
            "categories": list(self.categories), "missing_category": self.missing_category,
        }  # fmt: skip

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories) + self.missing_category

    @property
    def input_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={label_text(c)}" for c in self.categories] + [f"{self.name}={MISSING}"] * (
            self.missing_category
        )


class Encoded(NamedTuple):
    """What a transform gives: X, and what it found: the rows with a category not seen in
    training (encoded as all zeros), in all and per column."""

    X: np.ndarray  # float32, (m, n_inputs)
    unseen_rows: int
    unseen: dict[str, int]


class Features:
    """The transform from a table's feature columns to the network's inputs X.

    Args:
        names: the feature columns.
        categorical: integer (or other) columns to one-hot encode; text columns always are.
        impute: ``none`` refuses missing values; ``median`` fills numbers with the training
            split's median and gives categories a "missing" category.
        standardize: scale numeric features to zero mean, unit variance.
        max_categories: most categories of one column; more is refused.

    Attributes:
        columns: one :class:`Column` per feature, in input order (numbers first); learned by
            :meth:`fit_transform`.
    """

    def __init__(
        self,
        names: Sequence[str],
        categorical: Sequence[str] = (),
        impute: Impute = "none",
        standardize: bool = True,
        max_categories: int = 100,
    ) -> None:
        if impute not in IMPUTE:
            raise ValueError(f"unknown impute {impute!r}: expected one of {list(IMPUTE)}")
        self.names, self.categorical, self.impute = list(names), list(categorical), impute
        self.standardize, self.max_categories = standardize, max_categories
        self.columns: list[Column] = []

    @property
    def n_inputs(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def input_names(self) -> list[str]:
        return [name for c in self.columns for name in c.input_names]

    @property
    def numeric(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "numeric"]

    def fit_transform(self, table: Table, rows: np.ndarray | None = None, n_train: int | None = None) -> Encoded:
        """Learn the feature transform (:attr:`columns`) from the training rows, and return X and what it found.

        Args:
            table: the data.
            rows: the table rows that make X, in X's order (default: all, in order).
            n_train: the first ``n_train`` of ``rows`` are the training split (default: all).

        Returns:
            :class:`Encoded`: X, float32 of shape (len(rows), n_inputs), and its unseen categories.
        """
        m = table.num_rows if rows is None else len(rows)
        n_train = m if n_train is None else n_train
        numeric, factors = self._column_kinds(table)
        train_rows = np.arange(n_train) if rows is None else rows[:n_train]
        self.columns = [Column(name, "numeric") for name in numeric]
        categorical = set(self.categorical)
        for name, factor in factors.items():
            self.columns.append(self._fit_categories(table, name, factor, train_rows, categorical))
        X, missing, unseen = self._assemble(table, rows, factors)
        k = len(numeric)
        if self.impute == "median":
            self._fit_fill(table, X[:n_train, :k])
        self._check_missing(table, missing, m)
        self._fill_missing(X, missing)
        self._fit_scale(X[:n_train, :k])
        self._scale(X)
        return unseen

    def transform(self, table: Table, rows: np.ndarray | None = None) -> Encoded:
        """X of ``rows`` of ``table`` (default: all), float32 (m, n_inputs), with the learned
        transform, and its unseen categories."""
        table.require(self.names, " (the model was trained on them)")
        factors = {c.name: table.factor(c.name) for c in self.columns if c.kind == "categorical"}
        for c in self.numeric:
            _check_kind(table, c.name, NUMBER_KINDS, "numbers")
        X, missing, unseen = self._assemble(table, rows, factors)
        self._check_missing(table, missing, len(X))
        self._fill_missing(X, missing)
        self._scale(X)
        return unseen

    def _column_kinds(self, table: Table) -> tuple[list[str], dict[str, Any]]:
        """Numeric feature names, and the categorical ones with their codes."""
        names = set(self.names)
        unknown = [c for c in self.categorical if c not in names]
        if unknown:
            raise ValueError(f"--data.categorical names {unknown}, which are not features ({self.names})")
        numeric, factors, categorical = [], {}, set(self.categorical)
        for name in self.names:
            kind = table.kind(name)
            if kind == "empty":
                raise CSVFormatError(
                    f"{table.path}: column {name!r} is empty (no value in any row); leave it out with --data.features"
                )
            if name in categorical or kind in CATEGORY_KINDS:
                _check_kind(table, name, CATEGORY_KINDS + NUMBER_KINDS, "numbers or text")
                factors[name] = table.factor(name)
            else:
                _check_kind(table, name, NUMBER_KINDS, "numbers or text")
                numeric.append(name)
        return numeric, factors

    def _fit_categories(
        self, table: Table, name: str, factor: Any, train_rows: np.ndarray, categorical: set[str]
    ) -> Column:
        codes = factor.codes[train_rows]
        present = np.unique(codes[codes >= 0])
        categories = sorted(factor.levels[i] for i in present)
        if name not in categorical and _mostly_numbers(categories):
            example = next(c for c in categories if not is_number(c))
            raise CSVFormatError(
                f"{table.path}: column {name!r} mixes numbers and text (e.g. {shorten(example)!r}); "
                f"fix the text cells, or one-hot encode it on purpose with --data.categorical [{name}]"
            )
        if len(categories) > self.max_categories:
            raise CSVFormatError(
                f"{table.path}: column {name!r} has {len(categories)} distinct values in the training split, above "
                f"--data.max_categories {self.max_categories}; one-hot encoding it would make {len(categories)} "
                "inputs. Leave it out with --data.features, or raise --data.max_categories"
            )
        missing = bool((codes == -1).any()) and self.impute == "median"
        return Column(name, "categorical", categories=categories, missing_category=missing)

    def _assemble(
        self, table: Table, rows: np.ndarray | None, factors: dict[str, Any]
    ) -> tuple[np.ndarray, dict, Encoded]:
        """X with raw numbers (NaN where missing) and the one-hot columns; the missing values per
        column as ``{name: (count, first row)}``; X with its unseen categories. Infinite numbers
        are refused here."""
        m = table.num_rows if rows is None else len(rows)
        X = np.zeros((m, self.n_inputs), dtype=np.float32)  # calloc: pages are touched when written
        destination = None
        if rows is not None:
            destination = np.full(table.num_rows, -1, dtype=np.int64)
            destination[rows] = np.arange(m)
        missing: dict[str, tuple[int, int]] = {}
        numeric = [c.name for c in self.numeric]
        if numeric:
            self._fill_numbers(table, numeric, X, destination, missing)
        per_column, unseen = {}, np.zeros(m, dtype=bool)
        offset = len(numeric)
        for column in self.columns[len(numeric) :]:
            n_unseen = self._fill_one_hot(column, factors[column.name], X, offset, rows, missing, unseen)
            if n_unseen:
                per_column[column.name] = n_unseen
            offset += column.width
        n_rows = int(unseen.sum())
        if n_rows:
            listing = ", ".join(f"{name!r}: {n}" for name, n in list(per_column.items())[:NAMED])
            more = f" and {len(per_column) - NAMED} more columns" if len(per_column) > NAMED else ""
            log.warning(
                f"note: {table.path}: {n_rows} of {m} rows have a category not seen in training, or missing where "
                f"training had none (rows per column: {listing}{more}); such a category is encoded as all zeros"
            )
        return X, missing, Encoded(X, n_rows, per_column)

    def _fill_numbers(
        self, table: Table, names: list[str], X: np.ndarray, destination: np.ndarray | None, missing: dict
    ) -> None:
        k = len(names)
        count, first = np.zeros(k, dtype=np.int64), np.full(k, -1, dtype=np.int64)
        for start, j, block in table.float_blocks(names):
            columns = slice(j, j + block.shape[1])
            file_rows = np.arange(start, start + len(block))
            to = None
            if destination is not None:
                to = destination[start : start + len(block)]
                keep = to >= 0
                if not keep.all():
                    block, file_rows, to = block[keep], file_rows[keep], to[keep]
            if not np.isfinite(block).all():
                self._count_missing(table, names[columns], block, file_rows, count[columns], first[columns])
            if to is None:
                X[start : start + len(block), columns] = block
            elif block.shape[1] == X.shape[1]:
                X[to] = block
            else:
                X[to, columns] = block
        missing.update({names[j]: (int(count[j]), int(first[j])) for j in np.flatnonzero(count)})

    @staticmethod
    def _count_missing(
        table: Table, names: list[str], block: np.ndarray, file_rows: np.ndarray, count: np.ndarray, first: np.ndarray
    ) -> None:
        """Add the block's NaN (missing values) to ``count`` and ``first``; refuse ±inf."""
        infinite = np.isinf(block)
        if infinite.any():
            i, j = np.argwhere(infinite)[0]
            raise CSVFormatError(
                f"{table.path}: column {names[j]!r} has an infinite value on row {file_rows[i] + 1} (inf, or a "
                "number beyond float32's range ±3.4e38); remove it, or leave the cell blank and train with "
                "--data.impute median"
            )
        nan = np.isnan(block)
        per_column = nan.sum(0)
        new = (first < 0) & (per_column > 0)
        first[new] = file_rows[nan[:, new].argmax(0)]
        count += per_column

    def _fill_one_hot(
        self,
        column: Column,
        factor: Any,
        X: np.ndarray,
        offset: int,
        rows: np.ndarray | None,
        missing: dict,
        unseen_rows: np.ndarray,
    ) -> int:
        """Write the column's one-hot inputs into X; mark its unseen rows, and return their count."""
        lut = index_table(column.categories, factor.levels)
        codes = factor.codes if rows is None else factor.codes[rows]
        position = lut[codes]  # −1 missing, −2 unseen
        absent = np.flatnonzero(position == -1)
        if len(absent):
            if column.missing_category:
                position[absent] = len(column.categories)
            elif self.impute == "median":  # missing where training had no missing value: all zeros, like unseen
                position[absent] = -2
            else:
                first = absent[0] if rows is None else rows[absent].min()
                missing[column.name] = (len(absent), int(first))
        unseen = position == -2
        unseen_rows |= unseen
        hot = np.flatnonzero(position >= 0)
        X[hot, offset + position[hot]] = 1.0
        return int(unseen.sum())

    def _check_missing(self, table: Table, missing: dict[str, tuple[int, int]], m: int) -> None:
        """Refuse missing values that cannot be filled, naming the columns, counts and first rows."""
        fillable = {c.name for c in self.columns if c.fill is not None}
        refused = {name: v for name, v in missing.items() if name not in fillable}
        if not refused:
            return
        empty = [name for name, (n, _) in refused.items() if n == m]
        if empty:
            names = repr(empty[0]) if len(empty) == 1 else name_few(empty)
            raise CSVFormatError(
                f"{table.path}: column{'s' * (len(empty) > 1)} {names} is empty (no value in any row); "
                "leave it out with --data.features"
            )
        listing = ", ".join(
            f"{name!r} ({n} cell{'s' * (n > 1)}, first on row {row + 1})"
            for name, (n, row) in list(refused.items())[:NAMED]
        )
        if len(refused) > NAMED:
            listing += f" and {len(refused) - NAMED} more columns"
        how = (
            "train with --data.impute median (numbers get the training split's median, categories a 'missing' category)"
            if self.impute == "none"
            else "they have no value in the training split to learn a fill from"
        )
        raise CSVFormatError(f"{table.path}: missing values in {listing}; remove or impute missing values: {how}")

    def _fit_fill(self, table: Table, X_train: np.ndarray) -> None:
        """Medians of the training rows (missing values left out), for every numeric column."""
        for j, column in enumerate(self.numeric):
            values = X_train[:, j]
            if np.isnan(values).all():
                continue  # no value to learn from: _check_missing refuses the column if it has gaps
            column.fill = float(np.nanmedian(values.astype(np.float64)))

    def _fill_missing(self, X: np.ndarray, missing: dict) -> None:
        for j, column in enumerate(self.numeric):
            if column.name in missing:
                for s in range(0, len(X), 1 << 16):
                    values = X[s : s + (1 << 16), j]
                    values[np.isnan(values)] = column.fill

    def _fit_scale(self, X_train: np.ndarray) -> None:
        """Mean and standard deviation of each numeric column over the training rows, in float64,
        one block of rows at a time (Chan et al.'s pairwise update)."""
        columns = self.numeric
        if not self.standardize or not columns or not len(X_train):
            return
        count, mean, M2 = 0, np.zeros(len(columns)), np.zeros(len(columns))
        for s in range(0, len(X_train), 1 << 16):
            B = X_train[s : s + (1 << 16)]
            n_b = len(B)
            mean_b = B.sum(0, dtype=np.float64) / n_b  # float64 sums: a constant column's mean is exact
            D = B - mean_b  # float64
            M2_b = np.einsum("ij,ij->j", D, D)
            delta, total = mean_b - mean, count + n_b
            mean = mean + delta * (n_b / total)
            M2 = M2 + M2_b + np.square(delta) * (count * n_b / total)
            count = total
        std = np.sqrt(M2 / count)
        constant = [c.name for c, s in zip(columns, std, strict=True) if s == 0]
        if constant:
            log.warning(f"note: constant columns {constant} carry no information; they standardise to 0")
        for column, mu, s in zip(columns, mean, std, strict=True):
            column.mean, column.std = float(mu), float(s) if s > 0 else 1.0

    def _scale(self, X: np.ndarray) -> None:
        """Standardise the numeric inputs of X in place, one block of rows at a time."""
        k = len(self.numeric)
        if not k or not self.standardize:
            return
        mean = np.array([c.mean for c in self.numeric], dtype=np.float32)
        std = np.array([c.std for c in self.numeric], dtype=np.float32)
        for s in range(0, len(X), 1 << 16):
            block = X[s : s + (1 << 16), :k]
            block -= mean
            block /= std

    # ------------------------------------------------------ raw numbers (pictures)
    @property
    def x_mean(self) -> np.ndarray:
        return np.array([c.mean if c.kind == "numeric" else 0.0 for c in self.columns for _ in range(c.width)])

    @property
    def x_std(self) -> np.ndarray:
        return np.array([c.std if c.kind == "numeric" else 1.0 for c in self.columns for _ in range(c.width)])

    def standardize_inputs(self, X: Tensor) -> Tensor:
        """Raw inputs (numbers, one-hot columns as 0/1) → model inputs."""
        return (X - torch.as_tensor(self.x_mean).to(X)) / torch.as_tensor(self.x_std).to(X)

    def raw_inputs(self, X: Tensor) -> Tensor:
        """Model inputs → raw inputs (the inverse of :meth:`standardize_inputs`)."""
        return X * torch.as_tensor(self.x_std).to(X) + torch.as_tensor(self.x_mean).to(X)


def _mostly_numbers(categories: list) -> bool:
    """Text values of which at least half read as numbers: a numeric column with stray text."""
    texts = [c for c in categories if isinstance(c, str)]
    numbers = sum(is_number(c) for c in texts)
    return bool(texts) and 0 < numbers and 2 * numbers >= len(texts)


def _check_kind(table: Table, name: str, allowed: Sequence[str], wanted: str) -> None:
    kind = table.kind(name)
    if kind not in allowed:
        what = {"binary": "bytes that are not UTF-8 text", "empty": "no values"}.get(kind, f"{kind} values")
        raise CSVFormatError(
            f"{table.path}: column {name!r} holds {what}; it must hold {wanted}. Convert it (e.g. a date to a number "
            "of days), or leave it out with --data.features"
        )
