"""The data schema: everything the transform from a table to the network learned, in one place.

Features become one float32 matrix X of shape (m, n_inputs): the numeric columns first, in the
order given, standardised with the training split's statistics,

.. math::
    x' = \\frac{x - \\bar{x}}{s}, \\qquad
    \\bar{x} = \\frac{1}{m_{train}} \\sum_i x_i, \\qquad
    s = \\sqrt{\\frac{1}{m_{train}} \\sum_i (x_i - \\bar{x})^2}

(computed in float64; a constant column has s = 0 and is given s = 1, so it becomes exactly 0),
then one 0/1 column per category of each categorical column (text, booleans when named in
``categorical``, integer columns named there, Arrow dictionaries). A category never seen in
training encodes as all zeros. Missing values are refused, or with ``impute="median"`` filled
with the training split's median (numbers) or given their own category (categories).

Targets: text, booleans and few integer values are classes (kept in their own type, so
predictions come back in the file's own values); otherwise numbers are a regression target,
standardised like a feature.

The learned values are plain Python values (:meth:`Schema.state_dict`), so a checkpoint that
holds them loads with ``torch.load(weights_only=True)``.

Example:
    >>> import numpy as np
    >>> from torchtwolayer.data.tables import from_arrays
    >>> table = from_arrays({"size": np.array([1.0, 2.0, 3.0, 4.0]),
    ...                      "colour": np.array(["red", "blue", "red", "red"]),
    ...                      "species": np.array(["a", "b", "a", "b"])})
    >>> schema = Schema(["size", "colour"], "species")
    >>> y = schema.fit_target(table)
    >>> schema.task, schema.classes, y.tolist()
    ('binary', ['a', 'b'], [0, 1, 0, 1])
    >>> X = schema.fit_transform(table)
    >>> schema.input_names
    ['size', 'colour=blue', 'colour=red']
    >>> X[:2].astype(np.float64).round(3).tolist()
    [[-1.342, 0.0, 1.0], [-0.447, 1.0, 0.0]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ..core.tasks import TASKS
from .tables import CSVFormatError, Table

TASK_CHOICES = ("auto", *TASKS)  # auto: inferred from the target
TaskChoice = Literal[TASK_CHOICES]  # type: ignore[valid-type]
IMPUTE = ("none", "median")
Impute = Literal[IMPUTE]  # type: ignore[valid-type]
CATEGORY_KINDS = ("text", "category")  # always categorical
NUMBER_KINDS = ("number", "integer", "boolean")  # numeric unless named categorical
MISSING = "<missing>"  # the input name of the category of missing values
STATE_VERSION = 2
log = logging.getLogger(__name__)


def label_text(value: Any) -> str:
    """A class or category value as text, exact and distinct for distinct values of one type:
    ``true``/``false`` for booleans, the shortest round-trip form for floats."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


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


class Schema:
    """The transform from a table's columns to the network's inputs X and targets Y, and back.

    Fit it on the training split (:meth:`fit_target`, then :meth:`fit_transform`), apply it to
    any table with the same columns, in any order (:meth:`transform`), turn targets into what
    the cost takes (:meth:`encode`) and outputs into labels (:meth:`decode`).

    Args:
        features: the feature columns.
        target: the target column (``None``: features only).
        task: ``auto`` infers it: two values → ``binary``; text, booleans, or at most
            ``max_classes`` integer values → ``multiclass``; otherwise ``regression``.
        categorical: integer (or other) columns to one-hot encode; text columns always are.
        impute: ``none`` refuses missing feature values; ``median`` fills numbers with the
            training split's median and gives categories a "missing" category.
        standardize: scale numeric features (and a regression target) to zero mean, unit variance.
        max_classes: most distinct integer target values still inferred as classes.
        max_categories: most categories of one column; more is refused.

    Attributes:
        columns: one :class:`Column` per feature, in input order (numbers first).
        task, classes: the task, and the class values in their own type (``None`` for regression).
        y_mean, y_std: the regression target's standardisation.
        unseen_rows, last_unseen: after a transform, the rows with a category not seen in training
            (all zeros), and their count per column.
    """

    def __init__(
        self,
        features: Sequence[str],
        target: str | None,
        task: TaskChoice = "auto",
        categorical: Sequence[str] = (),
        impute: Impute = "none",
        standardize: bool = True,
        max_classes: int = 20,
        max_categories: int = 100,
    ) -> None:
        if task not in TASK_CHOICES:
            raise ValueError(f"unknown task {task!r}: expected one of {list(TASK_CHOICES)}")
        if impute not in IMPUTE:
            raise ValueError(f"unknown impute {impute!r}: expected one of {list(IMPUTE)}")
        self.feature_names, self.target_name = list(features), target
        self.requested_task, self.categorical, self.impute = task, list(categorical), impute
        self.standardize, self.max_classes, self.max_categories = standardize, max_classes, max_categories
        self.columns: list[Column] = []
        self.task: str | None = None
        self.classes: list | None = None
        self.y_mean, self.y_std = 0.0, 1.0
        self.last_unseen: dict[str, int] = {}
        self.unseen_rows = 0

    # ------------------------------------------------------------ what it gives
    @property
    def fitted(self) -> bool:
        return bool(self.columns)

    @property
    def n_inputs(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def input_names(self) -> list[str]:
        return [name for c in self.columns for name in c.input_names]

    @property
    def numeric(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "numeric"]

    @property
    def n_outputs(self) -> int | None:
        """1 for binary and regression, the number of classes for multiclass, None without a target."""
        if self.task is None:
            return None
        return len(self.classes) if self.task == "multiclass" else 1

    # ------------------------------------------------------------------ target
    def fit_target(self, table: Table) -> np.ndarray:
        """Infer the task and classes from every labelled row; return :meth:`target_values`."""
        name, kind = self.target_name, table.kind(self.target_name)
        task = self.requested_task
        if kind in CATEGORY_KINDS or kind == "boolean":
            if task == "regression":
                raise CSVFormatError(
                    f"{table.path}: the target {name!r} holds {kind} values; regression needs numbers. "
                    "Use --data.task auto, binary or multiclass"
                )
            self._set_classes(table, table.factor(name).levels)
        elif kind in ("integer", "number"):
            self._infer_numeric_task(table, kind)
        elif kind == "empty":
            raise CSVFormatError(f"{table.path}: the target {name!r} has no values; name another with --data.target")
        else:
            raise CSVFormatError(f"{table.path}: the target {name!r} holds {kind} values; it must be numbers or text")
        return self.target_values(table)

    def _infer_numeric_task(self, table: Table, kind: str) -> None:
        task, name = self.requested_task, self.target_name
        n_values = table.count_distinct(name) if task != "regression" else 0
        if task == "binary" and n_values > 2:
            raise CSVFormatError(
                f"{table.path}: task 'binary' needs a target with exactly two values, got {n_values}; "
                "use --data.task multiclass or regression"
            )
        few = n_values == 2 or n_values <= self.max_classes
        classes = task in ("binary", "multiclass") or (task == "auto" and few)
        if classes and kind == "number" and task != "binary" and n_values != 2:
            y = table.numbers(name)
            fractional = y[np.isfinite(y) & (y != np.round(y))]
            if len(fractional) and task == "multiclass":
                raise CSVFormatError(
                    f"{table.path}: the target {name!r} holds non-integer numbers (e.g. {fractional[0]!r}); it is "
                    "continuous, not classes. Use --data.task regression (or auto)"
                )
            classes = not len(fractional)
        if not classes:
            self.task, self.classes = "regression", None
            return
        self._set_classes(table, table.factor(name).levels)

    def _set_classes(self, table: Table, values: list) -> None:
        classes = sorted(values)
        task = self.requested_task
        if len(classes) < 2:
            raise CSVFormatError(
                f"{table.path}: the target {self.target_name!r} has a single value "
                f"({label_text(classes[0]) if classes else 'none'}); a classifier needs at least two classes"
            )
        if task == "binary" and len(classes) != 2:
            raise CSVFormatError(
                f"{table.path}: task 'binary' needs a target with exactly two values, got {len(classes)}; "
                "use --data.task multiclass or regression"
            )
        self.task = task if task != "auto" else ("binary" if len(classes) == 2 else "multiclass")
        self.classes = classes

    def target_values(self, table: Table) -> np.ndarray:
        """The target column: class indices (int64, −1 where missing) or raw numbers (float64,
        NaN where missing). A class the schema does not know is an error."""
        name = self.target_name
        if name not in table.names:
            raise CSVFormatError(
                f"{table.path}: target column {name!r} not found; the file has columns {table.names}. "
                "Name the target with --data.target"
            )
        if self.task == "regression":
            if table.kind(name) not in NUMBER_KINDS:
                raise CSVFormatError(f"{table.path}: the target {name!r} must hold numbers for regression")
            y = table.numbers(name)
            infinite = np.flatnonzero(np.isinf(y))
            if len(infinite):
                raise CSVFormatError(
                    f"{table.path}: the target {name!r} has an infinite value on row {infinite[0] + 1}; "
                    "remove that row or fix the value"
                )
            return y
        factor = table.factor(name)
        index = {_key(c): i for i, c in enumerate(self.classes)}
        lut = np.array([index.get(_key(v), -2) for v in factor.levels] + [-1], dtype=np.int64)
        y = lut[factor.codes]  # code −1 picks the appended −1
        unknown = sorted({label_text(factor.levels[c]) for c in np.unique(factor.codes[y == -2])})
        if unknown:
            raise ValueError(
                f"{table.path}: target values {unknown[:5]} were not seen in training "
                f"(classes {[label_text(c) for c in self.classes]}); the checkpoint cannot score them"
            )
        return y

    def fit_target_scale(self, y_train: np.ndarray) -> None:
        """The regression target's standardisation, from the training rows (float64)."""
        if self.task != "regression" or not self.standardize or not len(y_train):
            return
        mean = float(np.mean(y_train, dtype=np.float64))
        std = float(np.std(y_train, dtype=np.float64))
        self.y_mean, self.y_std = mean, std if std > 0 else 1.0

    def encode(self, y: np.ndarray) -> Tensor:
        """:meth:`target_values` → what the cost takes: 0/1 floats (binary), class indices
        (multiclass) or standardised float32 values (regression)."""
        if self.task == "regression":
            return torch.from_numpy(((y - self.y_mean) / self.y_std).astype(np.float32))
        Y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        return Y.float() if self.task == "binary" else Y

    def decode(self, A2: Tensor) -> dict[str, np.ndarray]:
        """Model outputs A2 → prediction columns: the label in the target's own values, then
        ``p_<class>`` per class (names exact and distinct), or the value in target units."""
        if self.task == "regression":
            return {"prediction": A2[:, 0].detach().double().cpu().numpy() * self.y_std + self.y_mean}
        classes = np.empty(len(self.classes), dtype=object)
        classes[:] = self.classes
        P = A2.detach().float().cpu().numpy()
        if self.task == "binary":
            p1 = P[:, 0]
            P = np.stack([1 - p1, p1], 1)
            label = (p1 > 0.5).astype(np.int64)
        else:
            label = P.argmax(1)
        columns = {"prediction": classes[label]}
        columns.update({f"p_{label_text(c)}": P[:, k] for k, c in enumerate(self.classes)})
        if len(columns) != len(self.classes) + 1:  # cannot happen for values of one type: a guard
            raise ValueError(f"class values {self.classes} do not give distinct column names")
        return columns

    # ---------------------------------------------------------------- features
    def fit_transform(self, table: Table, rows: np.ndarray | None = None, n_train: int | None = None) -> np.ndarray:
        """Learn the feature transform from the training rows, and return X.

        Args:
            table: the data.
            rows: the table rows that make X, in X's order (default: all, in order).
            n_train: the first ``n_train`` of ``rows`` are the training split (default: all).

        Returns:
            X, float32 of shape (len(rows), n_inputs).
        """
        m = table.num_rows if rows is None else len(rows)
        n_train = m if n_train is None else n_train
        numeric, factors = self._column_kinds(table)
        train_rows = np.arange(n_train) if rows is None else rows[:n_train]
        self.columns = [Column(name, "numeric") for name in numeric]
        for name, factor in factors.items():
            self.columns.append(self._fit_categories(table, name, factor, train_rows))
        X, missing = self._assemble(table, rows, factors)
        k = len(numeric)
        if self.impute == "median":
            self._fit_fill(table, X[:n_train, :k])
        self._check_missing(table, missing, m)
        self._fill_missing(X, missing)
        self._fit_scale(X[:n_train, :k])
        self._scale(X)
        return X

    def transform(self, table: Table, rows: np.ndarray | None = None) -> np.ndarray:
        """X of ``rows`` of ``table`` (default: all), float32 (m, n_inputs), with the learned transform."""
        missing_columns = [c for c in self.feature_names if c not in table.names]
        if missing_columns:
            raise CSVFormatError(
                f"{table.path}: feature columns {missing_columns} not found; the model was trained on "
                f"{self.feature_names} and the file has {table.names}"
            )
        factors = {c.name: table.factor(c.name) for c in self.columns if c.kind == "categorical"}
        for c in self.numeric:
            _check_kind(table, c.name, NUMBER_KINDS, "numbers")
        X, missing = self._assemble(table, rows, factors)
        self._check_missing(table, missing, len(X))
        self._fill_missing(X, missing)
        self._scale(X)
        return X

    def _column_kinds(self, table: Table) -> tuple[list[str], dict[str, Any]]:
        """Numeric feature names, and the categorical ones with their codes."""
        unknown = [c for c in self.categorical if c not in self.feature_names]
        if unknown:
            raise ValueError(f"--data.categorical names {unknown}, which are not features ({self.feature_names})")
        numeric, factors = [], {}
        for name in self.feature_names:
            kind = table.kind(name)
            if kind == "empty":
                raise CSVFormatError(
                    f"{table.path}: column {name!r} is empty (no value in any row); leave it out with --data.features"
                )
            if name in self.categorical or kind in CATEGORY_KINDS:
                _check_kind(table, name, CATEGORY_KINDS + NUMBER_KINDS, "numbers or text")
                factors[name] = table.factor(name)
            else:
                _check_kind(table, name, NUMBER_KINDS, "numbers or text")
                numeric.append(name)
        return numeric, factors

    def _fit_categories(self, table: Table, name: str, factor: Any, train_rows: np.ndarray) -> Column:
        codes = factor.codes[train_rows]
        present = np.unique(codes[codes >= 0])
        categories = sorted(factor.levels[i] for i in present)
        if name not in self.categorical and _mostly_numbers(categories):
            example = next(c for c in categories if not _is_number(c))
            raise CSVFormatError(
                f"{table.path}: column {name!r} mixes numbers and text (e.g. {_shorten(example)!r}); "
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

    def _assemble(self, table: Table, rows: np.ndarray | None, factors: dict[str, Any]) -> tuple[np.ndarray, dict]:
        """X with raw numbers (NaN where missing) and the one-hot columns; the missing values per
        column as ``{name: (count, first row)}``. Infinite numbers are refused here."""
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
        self.last_unseen, unseen = {}, np.zeros(m, dtype=bool)
        offset = len(numeric)
        for column in self.columns[len(numeric) :]:
            self._fill_one_hot(column, factors[column.name], X, offset, rows, missing, unseen)
            offset += column.width
        self.unseen_rows = int(unseen.sum())
        if self.unseen_rows:
            per_column = ", ".join(f"{name!r}: {n}" for name, n in self.last_unseen.items())
            log.warning(
                f"note: {table.path}: {self.unseen_rows} of {m} rows have a category not seen in training, or missing "
                f"where training had none (rows per column: {per_column}); such a category is encoded as all zeros"
            )
        return X, missing

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
    ) -> None:
        index = {_key(c): i for i, c in enumerate(column.categories)}
        lut = np.array([index.get(_key(v), -2) for v in factor.levels] + [-1], dtype=np.int64)
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
        if unseen.any():
            self.last_unseen[column.name] = int(unseen.sum())
            unseen_rows |= unseen
        hot = np.flatnonzero(position >= 0)
        X[hot, offset + position[hot]] = 1.0

    def _check_missing(self, table: Table, missing: dict[str, tuple[int, int]], m: int) -> None:
        """Refuse missing values that cannot be filled, naming the columns, counts and first rows."""
        fillable = {c.name for c in self.columns if c.fill is not None}
        refused = {name: v for name, v in missing.items() if name not in fillable}
        if not refused:
            return
        empty = [name for name, (n, _) in refused.items() if n == m]
        if empty:
            raise CSVFormatError(
                f"{table.path}: column{'s' * (len(empty) > 1)} {', '.join(map(repr, empty))} "
                "is empty (no value in any row); leave it out with --data.features"
            )
        listing = ", ".join(
            f"{name!r} ({n} cell{'s' * (n > 1)}, first on row {row + 1})" for name, (n, row) in refused.items()
        )
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

    # ------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Plain values only (lists, str, int, float, bool, None), for ``torch.load(weights_only=True)``.

        Keys: ``version``; ``feature_names`` (the feature columns), ``input_names`` (the n_inputs
        columns of X), ``columns`` (per feature: name, kind, mean, std, fill, categories,
        missing_category), ``x_mean``/``x_std`` (per input; 0/1 for one-hot inputs), ``impute``,
        ``standardize``; ``target_name``, ``task``, ``classes`` (in their own type), ``y_mean``, ``y_std``.
        """
        return {
            "version": STATE_VERSION,
            "feature_names": list(self.feature_names),
            "input_names": self.input_names,
            "columns": [asdict(c) for c in self.columns],
            "x_mean": self.x_mean.tolist(),
            "x_std": self.x_std.tolist(),
            "impute": self.impute,
            "standardize": self.standardize,
            "target_name": self.target_name,
            "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
            "y_mean": self.y_mean,
            "y_std": self.y_std,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take a learned state (also a version-1 state: numeric features, x_mean/x_std)."""
        self.feature_names, self.target_name = list(state["feature_names"]), state["target_name"]
        self.task, self.classes = state["task"], state["classes"]
        self.y_mean, self.y_std = state["y_mean"], state["y_std"]
        self.impute, self.standardize = state.get("impute", "none"), state.get("standardize", True)
        if "columns" in state:
            self.columns = [Column(**c) for c in state["columns"]]
        else:  # version 1: every feature numeric
            self.columns = [
                Column(name, "numeric", mean=mu, std=s)
                for name, mu, s in zip(state["feature_names"], state["x_mean"], state["x_std"], strict=True)
            ]
        self.categorical = [c.name for c in self.columns if c.kind == "categorical"]

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Schema:
        schema = cls(state["feature_names"], state["target_name"])
        schema.load_state_dict(state)
        return schema


def _shorten(text: Any, limit: int = 40) -> str:
    """A cell quoted in a message: at most ``limit`` characters (a cell may be megabytes long)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _key(value: Any) -> tuple[str, Any]:
    """A dictionary key that keeps True apart from 1 and "1" apart from 1, but 1 equal to 1.0
    (exactly: large integers are not rounded through float)."""
    if isinstance(value, bool | np.bool_):
        return ("bool", bool(value))
    if isinstance(value, str):
        return ("str", value)
    return ("number", value.item() if isinstance(value, np.generic) else value)


def _is_number(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def _mostly_numbers(categories: list) -> bool:
    """Text values of which at least half read as numbers: a numeric column with stray text."""
    texts = [c for c in categories if isinstance(c, str)]
    numbers = sum(_is_number(c) for c in texts)
    return bool(texts) and 0 < numbers and 2 * numbers >= len(texts)


def _check_kind(table: Table, name: str, allowed: Sequence[str], wanted: str) -> None:
    kind = table.kind(name)
    if kind not in allowed:
        what = {"binary": "bytes that are not UTF-8 text", "empty": "no values"}.get(kind, f"{kind} values")
        raise CSVFormatError(
            f"{table.path}: column {name!r} holds {what}; it must hold {wanted}. Convert it (e.g. a date to a number "
            "of days), or leave it out with --data.features"
        )
