"""Checking a schema state read from a checkpoint: each field's type and range, so an edited one is called damaged."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ..core.tasks import TASKS
from .features import IMPUTE
from .values import duplicated, value_key

STATE_VERSIONS = (1, 2)  # the schema states this version reads
COLUMN_FIELDS = ("name", "kind", "mean", "std", "fill", "categories", "missing_category")


class DamagedStateError(ValueError):
    """A checkpoint's schema state is not one ``fit`` wrote: edited, or from an unknown version."""


def check_state(state: Any, n_inputs: int | None = None, n_outputs: int | None = None) -> None:
    """Refuse a schema state that ``Schema.state_dict`` cannot have written, naming the field.

    Args:
        state: the state, as read from the checkpoint.
        n_inputs, n_outputs: the network's sizes the checkpoint's hyperparameters give, if known.

    Raises:
        DamagedStateError: "the checkpoint is damaged: its schema field ... ".
    """
    if not isinstance(state, dict):
        _damaged("(the whole state)", "a dict", state)
    version = state.get("version", 1)  # the first states had no version
    if version not in STATE_VERSIONS or isinstance(version, bool):
        raise DamagedStateError(
            f"the checkpoint's schema has version {version!r}, which this torchtwolayer does not read (it reads "
            f"{list(STATE_VERSIONS)}); it was written by another version of torchtwolayer, or edited"
        )
    names = _field(state, "feature_names", list)
    if not names or not all(isinstance(n, str) for n in names) or duplicated(names):
        _damaged("feature_names", "a list of distinct column names", names)
    target = _field(state, "target_name", (str, type(None)))
    task = _field(state, "task", (str, type(None)))
    if (task is not None and task not in TASKS) or (task is None) != (target is None):
        _damaged("task", f"one of {list(TASKS)} (None only without a target)", task)
    _check_classes(state, task)
    for key in ("y_mean", "y_std"):
        _number(state, key, positive=key == "y_std")
    if _field(state, "impute", str, default="none") not in IMPUTE:
        _damaged("impute", f"one of {list(IMPUTE)}", state["impute"])
    _field(state, "standardize", bool, default=True)
    width = _check_columns(state, names) if version == 2 else len(names)
    for key in ("x_mean", "x_std") + (("input_names",) if version == 2 else ()):
        values = _field(state, key, list)
        if len(values) != width:
            _damaged(key, f"a list of {width} values (one per input)", f"{len(values)} values")
        for i, value in enumerate(values):
            if key == "input_names" and not isinstance(value, str):
                _damaged(f"{key}[{i}]", "text", value)
            if key != "input_names":
                _finite(f"{key}[{i}]", value, positive=key == "x_std")
    if n_inputs is not None and width != n_inputs:
        _damaged("columns", f"{n_inputs} inputs, as many as the network's n_features", f"{width} inputs")
    n = None if task is None else len(state["classes"]) if task == "multiclass" else 1
    if n_outputs is not None and n is not None and n != n_outputs:
        _damaged("classes", f"{n_outputs} outputs, as many as the network's n_outputs", f"{n} outputs")


def _check_classes(state: dict, task: str | None) -> None:
    classes = _field(state, "classes", (list, type(None)))
    if task in (None, "regression"):
        if classes is not None:
            _damaged("classes", "None for regression or without a target", f"{len(classes)} classes")
        return
    if classes is None or len(classes) < 2 or (task == "binary" and len(classes) != 2):
        _damaged("classes", f"a list of {'two' if task == 'binary' else 'at least two'} classes", classes)
    for i, c in enumerate(classes):
        if not isinstance(c, str | int | float | bool) or (isinstance(c, float) and not math.isfinite(c)):
            _damaged(f"classes[{i}]", "text, a number or a boolean", c)
    if duplicated(value_key(c) for c in classes):
        _damaged("classes", "distinct values", classes)


def _check_columns(state: dict, names: list[str]) -> int:
    """Each column's fields; the columns are the features, numbers first. Returns the number of inputs."""
    columns = _field(state, "columns", list)
    for i, column in enumerate(columns):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            _damaged(f"columns[{i}]", "a dict with a column name", column)
    if Counter(c["name"] for c in columns) != Counter(names):
        _damaged("columns", f"one entry per feature of {names[:5]}", [c["name"] for c in columns][:5])
    width, categorical = 0, False
    for i, column in enumerate(columns):
        where = f"columns[{i}]"
        if set(column) != set(COLUMN_FIELDS):
            _damaged(where, f"the fields {list(COLUMN_FIELDS)}", sorted(column))
        if column["kind"] == "numeric":
            if categorical:
                _damaged(f"{where}.kind", "numeric columns before the categorical ones", column["kind"])
            _finite(f"{where}.mean", column["mean"])
            _finite(f"{where}.std", column["std"], positive=True)
            if column["fill"] is not None:
                _finite(f"{where}.fill", column["fill"])
            width += 1
        elif column["kind"] == "categorical":
            categorical = True
            categories = column["categories"]
            if not isinstance(categories, list) or not all(isinstance(c, str | int | float | bool) for c in categories):
                _damaged(f"{where}.categories", "a list of values", categories)
            if duplicated(value_key(c) for c in categories):
                _damaged(f"{where}.categories", "distinct values", categories)
            if not isinstance(column["missing_category"], bool):
                _damaged(f"{where}.missing_category", "true or false", column["missing_category"])
            width += len(categories) + column["missing_category"]
        else:
            _damaged(f"{where}.kind", "'numeric' or 'categorical'", column["kind"])
    return width


def _field(state: dict, key: str, kind: type | tuple, default: Any = ...) -> Any:
    if key not in state:
        if default is not ...:
            return default
        raise DamagedStateError(f"the checkpoint is damaged: its schema has no field {key!r}")
    value = state[key]
    if not isinstance(value, kind):
        _damaged(key, getattr(kind, "__name__", "the right type"), value)
    return value


def _number(state: dict, key: str, positive: bool = False) -> float:
    value = _field(state, key, (int, float))
    _finite(key, value, positive)
    return value


def _finite(where: str, value: Any, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _damaged(where, "a finite number", value)
    if positive and value <= 0:
        _damaged(where, "a number above 0", value)


def _damaged(where: str, expected: str, got: Any) -> None:
    got = repr(got)
    got = got if len(got) <= 60 else f"{got[:60]}…"
    raise DamagedStateError(f"the checkpoint is damaged: its schema field {where!r} should be {expected}, got {got}")
