"""The target part of the schema: the task and classes a target column holds, and its encoding for the cost and back.

Text, booleans and few integer values are classes (kept in their own type, so predictions come
back in the file's own values); otherwise numbers are a regression target, standardised with
the training split's mean and standard deviation.
"""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ..core.tasks import TASKS
from .table import CSVFormatError, Table
from .values import index_table, label_text, looks_numeric, name_few

TASK_CHOICES = ("auto", *TASKS)  # auto: inferred from the target
TaskChoice = Literal[TASK_CHOICES]  # type: ignore[valid-type]
NUMBER_KINDS = ("number", "integer", "boolean")
CLASS_KINDS = ("text", "category", "boolean")
ROWS_PER_CLASS = 10  # a class target needs about this many labelled rows per class
log = logging.getLogger(__name__)


def infer_task(
    table: Table, name: str, requested: TaskChoice = "auto", max_classes: int = 20
) -> tuple[str, list | None]:
    """The task and the classes (sorted, in their own type; ``None`` for regression) of the
    target column ``name``, from every labelled row.

    ``auto``: two values → ``binary``; text, booleans, or at most ``max_classes`` integer
    values → ``multiclass``; otherwise ``regression``. Refused: a column of numbers with a few
    text cells (unless ``binary`` or ``multiclass`` is asked for), and more classes than
    ``max(max_classes, labelled rows / ROWS_PER_CLASS)``. Labels equal but for surrounding
    spaces or Unicode normalisation get a note.
    """
    if requested not in TASK_CHOICES:
        raise ValueError(f"unknown task {requested!r}: expected one of {list(TASK_CHOICES)}")
    kind = table.kind(name)
    if kind in CLASS_KINDS:
        factor = table.factor(name)
        if requested in ("auto", "regression"):
            _refuse_stray_text(table, name, factor)
        if requested == "regression":
            raise CSVFormatError(
                f"{table.path}: the target {name!r} holds {kind} values; regression needs numbers. "
                "Use --data.task auto, binary or multiclass"
            )
        return _classes(table, name, requested, factor, max_classes)
    if kind in ("integer", "number"):
        return _numeric_task(table, name, requested, kind, max_classes)
    if kind == "empty":
        raise CSVFormatError(f"{table.path}: the target {name!r} has no values; name another with --data.target")
    raise CSVFormatError(f"{table.path}: the target {name!r} holds {kind} values; it must be numbers or text")


def _numeric_task(table: Table, name: str, requested: str, kind: str, max_classes: int) -> tuple[str, list | None]:
    n_values = table.count_distinct(name) if requested != "regression" else 0
    if requested == "binary" and n_values > 2:
        raise CSVFormatError(
            f"{table.path}: task 'binary' needs a target with exactly two values, got {n_values}; "
            "use --data.task multiclass or regression"
        )
    few = n_values == 2 or n_values <= max_classes
    classes = requested in ("binary", "multiclass") or (requested == "auto" and few)
    if classes and kind == "number" and requested != "binary" and n_values != 2:
        y = table.numbers(name)
        fractional = y[np.isfinite(y) & (y != np.round(y))]
        if len(fractional) and requested == "multiclass":
            raise CSVFormatError(
                f"{table.path}: the target {name!r} holds non-integer numbers (e.g. {fractional[0]!r}); it is "
                "continuous, not classes. Use --data.task regression (or auto)"
            )
        classes = not len(fractional)
    if not classes:
        return "regression", None
    return _classes(table, name, requested, table.factor(name), max_classes)


def _refuse_stray_text(table: Table, name: str, factor: Any) -> None:
    """A text column whose values mostly read as numbers, but not all: numbers with stray text cells."""
    texts = [i for i, v in enumerate(factor.levels) if isinstance(v, str)]
    stray = [i for i in texts if not looks_numeric(factor.levels[i])]
    if not stray or 2 * (len(texts) - len(stray)) < len(texts):
        return
    is_stray = np.zeros(len(factor.levels) + 1, dtype=bool)
    is_stray[stray] = True
    rows = np.flatnonzero(is_stray[factor.codes]) + 1  # code −1 (missing) picks the final False
    values = [factor.levels[i] for i in stray]
    raise CSVFormatError(
        f"{table.path}: the target {name!r} holds numbers but {len(rows)} text cell{'s' * (len(rows) > 1)} "
        f"{name_few(values)} on row{'s' * (len(rows) > 1)} {name_few(rows.tolist())}; fix or remove those rows "
        "(or, if every value is a class label, say so with --data.task multiclass)"
    )


def _classes(table: Table, name: str, requested: str, factor: Any, max_classes: int) -> tuple[str, list]:
    classes = sorted(factor.levels)
    if len(classes) < 2:
        raise CSVFormatError(
            f"{table.path}: the target {name!r} has a single value "
            f"({label_text(classes[0]) if classes else 'none'}); a classifier needs at least two classes"
        )
    if requested == "binary" and len(classes) != 2:
        raise CSVFormatError(
            f"{table.path}: task 'binary' needs a target with exactly two values, got {len(classes)}; "
            "use --data.task multiclass or regression"
        )
    labelled = int(np.count_nonzero(factor.codes >= 0))
    if len(classes) > max(max_classes, labelled // ROWS_PER_CLASS):
        raise CSVFormatError(
            f"{table.path}: the target {name!r} has {len(classes)} distinct values in {labelled} labelled rows, more "
            f"than one class per {ROWS_PER_CLASS} rows: too few examples to learn each class. If it is a quantity, "
            "use --data.task regression; if not, name another target with --data.target (or raise "
            "--data.max_classes)"
        )
    _note_look_alikes(name, classes)
    return (requested if requested != "auto" else ("binary" if len(classes) == 2 else "multiclass")), classes


def _note_look_alikes(name: str, classes: list) -> None:
    """A note naming labels that are equal but for surrounding spaces or Unicode normalisation (NFC)."""
    groups = defaultdict(list)
    for c in classes:
        if isinstance(c, str):
            groups[unicodedata.normalize("NFC", c.strip())].append(c)
    alike = [group for group in groups.values() if len(group) > 1]
    if alike:
        listing = "; ".join(" and ".join(ascii(c) for c in group[:3]) for group in alike[:3])
        more = f" and {len(alike) - 3} more groups" if len(alike) > 3 else ""
        log.warning(
            f"note: the target {name!r} has labels that differ only by surrounding spaces or Unicode normalisation: "
            f"{listing}{more}; they are separate classes. Clean the file if each group means one class"
        )


def target_scale(y_train: np.ndarray) -> tuple[float, float]:
    """The regression target's mean and standard deviation over the training rows (float64; 1 for a constant)."""
    mean = float(np.mean(y_train, dtype=np.float64))
    std = float(np.std(y_train, dtype=np.float64))
    return mean, std if std > 0 else 1.0


@dataclass
class Target:
    """A learned target: its column, task, classes and (regression) standardisation.

    Attributes:
        name: the target column (``None``: features only).
        task: ``binary``, ``multiclass`` or ``regression`` (``None`` until learned).
        classes: the class values in their own type (``None`` for regression).
        y_mean, y_std: the regression target's standardisation.
    """

    name: str | None
    task: str | None = None
    classes: list | None = None
    y_mean: float = 0.0
    y_std: float = 1.0

    @property
    def n_outputs(self) -> int | None:
        """1 for binary and regression, the number of classes for multiclass, None without a target."""
        if self.task is None:
            return None
        return len(self.classes) if self.task == "multiclass" else 1

    def values(self, table: Table) -> np.ndarray:
        """The target column: class indices (int64, −1 where missing) or raw numbers (float64,
        NaN where missing). A class this target does not know is an error."""
        name = self.name
        table.require_target(name)
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
        y = index_table(self.classes, factor.levels)[factor.codes]  # code −1 picks the appended −1
        unknown = sorted({label_text(factor.levels[c]) for c in np.unique(factor.codes[y == -2])})
        if unknown:
            raise ValueError(
                f"{table.path}: target values {unknown[:5]} were not seen in training "
                f"(classes {[label_text(c) for c in self.classes[:20]]}); the checkpoint cannot score them"
            )
        return y

    def encode(self, y: np.ndarray) -> Tensor:
        """:meth:`values` → what the cost takes: 0/1 floats (binary), class indices (multiclass)
        or standardised float32 values (regression)."""
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
        columns: dict[str, Any] = {"prediction": classes[label]}
        columns.update({f"p_{label_text(c)}": P[:, k] for k, c in enumerate(self.classes)})
        if len(columns) != len(self.classes) + 1:  # cannot happen for values of one type: a guard
            raise ValueError(f"class values {self.classes} do not give distinct column names")
        return columns
