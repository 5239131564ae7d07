"""The data schema: the target part and the feature part composed, with the one plain-dict state a checkpoint stores.

Features become one float32 matrix X of shape (m, n_inputs) (:mod:`.features`: numbers
standardised, categories one-hot); the target becomes class indices or standardised values
(:mod:`.target`). The learned values are plain Python values (:meth:`Schema.state_dict`), so a
checkpoint that holds them loads with ``torch.load(weights_only=True)``.

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
    >>> X, unseen_rows, unseen = schema.fit_transform(table)
    >>> schema.input_names
    ['size', 'colour=blue', 'colour=red']
    >>> X[:2].astype(np.float64).round(3).tolist()
    [[-1.342, 0.0, 1.0], [-0.447, 1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from .features import IMPUTE, MISSING, Column, Encoded, Features, Impute
from .schema_state import check_state
from .table import Table
from .target import TASK_CHOICES, Target, TaskChoice, infer_task, target_scale
from .values import label_text

__all__ = ["IMPUTE", "MISSING", "STATE_VERSION", "TASK_CHOICES", "Column", "Encoded", "Impute", "Schema", "TaskChoice",
           "label_text"]  # fmt: skip
STATE_VERSION = 2


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
        features: the feature part (:class:`~torchtwolayer.data.features.Features`).
        target: the target part (:class:`~torchtwolayer.data.target.Target`).
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
        self.features = Features(features, categorical, impute, standardize, max_categories)
        self.target = Target(target)
        self.requested_task, self.max_classes = task, max_classes

    # ------------------------------------------------------------ what it gives
    @property
    def feature_names(self) -> list[str]:
        return self.features.names

    @property
    def target_name(self) -> str | None:
        return self.target.name

    @property
    def categorical(self) -> list[str]:
        return self.features.categorical

    @property
    def impute(self) -> str:
        return self.features.impute

    @property
    def standardize(self) -> bool:
        return self.features.standardize

    @property
    def columns(self) -> list[Column]:
        return self.features.columns

    @property
    def fitted(self) -> bool:
        return bool(self.features.columns)

    @property
    def n_inputs(self) -> int:
        return self.features.n_inputs

    @property
    def input_names(self) -> list[str]:
        return self.features.input_names

    @property
    def numeric(self) -> list[Column]:
        return self.features.numeric

    @property
    def x_mean(self) -> np.ndarray:
        return self.features.x_mean

    @property
    def x_std(self) -> np.ndarray:
        return self.features.x_std

    @property
    def n_outputs(self) -> int | None:
        """1 for binary and regression, the number of classes for multiclass, None without a target."""
        return self.target.n_outputs

    @property
    def task(self) -> str | None:
        return self.target.task

    @task.setter
    def task(self, task: str | None) -> None:
        self.target.task = task

    @property
    def classes(self) -> list | None:
        return self.target.classes

    @classes.setter
    def classes(self, classes: list | None) -> None:
        self.target.classes = classes

    @property
    def y_mean(self) -> float:
        return self.target.y_mean

    @property
    def y_std(self) -> float:
        return self.target.y_std

    # ------------------------------------------------------------------ target
    def fit_target(self, table: Table) -> np.ndarray:
        """Infer the task and classes from every labelled row; return :meth:`target_values`."""
        self.target.task, self.target.classes = infer_task(
            table, self.target.name, self.requested_task, self.max_classes
        )
        return self.target.values(table)

    def target_values(self, table: Table) -> np.ndarray:
        """The target column: class indices (int64, −1 where missing) or raw numbers (float64, NaN where missing)."""
        return self.target.values(table)

    def fit_target_scale(self, y_train: np.ndarray) -> None:
        """The regression target's standardisation, from the training rows (float64)."""
        if self.task == "regression" and self.standardize and len(y_train):
            self.target.y_mean, self.target.y_std = target_scale(y_train)

    def encode(self, y: np.ndarray) -> Tensor:
        """:meth:`target_values` → what the cost takes (see :meth:`Target.encode`)."""
        return self.target.encode(y)

    def decode(self, A2: Tensor) -> dict[str, np.ndarray]:
        """Model outputs A2 → prediction columns (see :meth:`Target.decode`)."""
        return self.target.decode(A2)

    # ---------------------------------------------------------------- features
    def fit_transform(self, table: Table, rows: np.ndarray | None = None, n_train: int | None = None) -> Encoded:
        """Learn the feature transform from the training rows; X and its unseen categories."""
        return self.features.fit_transform(table, rows, n_train)

    def transform(self, table: Table, rows: np.ndarray | None = None) -> Encoded:
        """X of ``rows`` of ``table`` (default: all) with the learned transform, and its unseen categories."""
        return self.features.transform(table, rows)

    def standardize_inputs(self, X: Tensor) -> Tensor:
        """Raw inputs (numbers, one-hot columns as 0/1) → model inputs."""
        return self.features.standardize_inputs(X)

    def raw_inputs(self, X: Tensor) -> Tensor:
        """Model inputs → raw inputs (the inverse of :meth:`standardize_inputs`)."""
        return self.features.raw_inputs(X)

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
            "columns": [c.state() for c in self.columns],
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
        """Take a learned state (also a version-1 state: numeric features, x_mean/x_std), checked
        field by field (:func:`~.schema_state.check_state`)."""
        check_state(state)
        if "columns" in state:
            columns = [Column(**c) for c in state["columns"]]
        else:  # version 1: every feature numeric
            columns = [
                Column(name, "numeric", mean=mu, std=s)
                for name, mu, s in zip(state["feature_names"], state["x_mean"], state["x_std"], strict=True)
            ]
        categorical = [c.name for c in columns if c.kind == "categorical"]
        self.features = Features(
            state["feature_names"], categorical, state.get("impute", "none"), state.get("standardize", True),
            self.features.max_categories,
        )  # fmt: skip
        self.features.columns = columns
        self.target = Target(state["target_name"], state["task"], state["classes"], state["y_mean"], state["y_std"])

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Schema:
        schema = cls(state["feature_names"], state["target_name"])
        schema.load_state_dict(state)
        return schema
