r"""The data's transform of raw features, from a checkpoint's plain-dict data state, as ONNX nodes.

One graph input per feature column, named as in the file, shape (batch, 1):

- a **numeric** column is float32, NaN for a blank cell. The graph fills NaN with the training
  split's median where the run was trained with ``--data.impute median`` (``ai.onnx.ml.Imputer``),
  then standardises, :math:`x' = (x - \bar x) / s` in float32 (``Sub``, ``Div``), as ``predict``
  does; a constant column has :math:`s = 1`.
- a **categorical** column of numbers (``--data.categorical``) is float32 like a numeric one, so that
  ``2``, ``2.0`` and ``002`` are the category 2 as ``predict`` reads them; NaN is a blank cell.
- any other **categorical** column is a string: the cell's text. ``ai.onnx.ml.LabelEncoder`` maps it to
  its category's position (also every spelling the CSV reader takes for a boolean, and Arrow's
  null spellings — ``""``, ``NA``, ``null``, ... — to the missing value), ``ai.onnx.ml.OneHotEncoder``
  with ``zeros=1`` makes the 0/1 columns. As in ``predict``: an unseen category is all zeros; a
  missing cell takes the "missing" category where training had one, is all zeros where the run
  imputes, and otherwise (``predict`` refuses the file) makes the row's outputs NaN.

The inputs of the network, X (batch, n_inputs), are the numeric columns then the one-hot columns,
in the order of the state's ``columns``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..data.values import label_text
from .graph import ML, GraphBuilder

UNSEEN = -1  # LabelEncoder's default: no column is hot
REFUSED = -2  # a missing cell that predict refuses: the row becomes NaN


def feature_columns(data_state: dict[str, Any]) -> list[dict[str, Any]]:
    """Per feature, in X's order: name, kind, mean, std, fill, categories, missing_category
    (a version-1 state has numeric features only, with ``x_mean``/``x_std``)."""
    if "columns" in data_state:
        return [dict(c) for c in data_state["columns"]]
    return [
        {"name": n, "kind": "numeric", "mean": mu, "std": s, "fill": None, "categories": [], "missing_category": False}
        for n, mu, s in zip(data_state["feature_names"], data_state["x_mean"], data_state["x_std"], strict=True)
    ]


def numeric_categories(column: dict[str, Any]) -> bool:
    """A categorical column whose categories are all numbers (not booleans): its input is float32."""
    return column["kind"] == "categorical" and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in column["categories"]
    )


def input_is_float(column: dict[str, Any]) -> bool:
    """The column's graph input is float32 (NaN blank), not a string."""
    return column["kind"] == "numeric" or numeric_categories(column)


def spellings(value: Any) -> list[str]:
    """Every text the CSV reader reads as ``value`` that the graph accepts for it."""
    import pyarrow.csv as pacsv

    if isinstance(value, bool | np.bool_):
        options = pacsv.ConvertOptions()
        return list(options.true_values if value else options.false_values)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return [label_text(value), str(int(value))]
    return [label_text(value)]


def null_spellings() -> list[str]:
    """The cell texts the CSV reader reads as missing (Arrow's null values, ``""`` among them)."""
    import pyarrow.csv as pacsv

    return list(pacsv.ConvertOptions().null_values)


def add_preprocessing(g: GraphBuilder, data_state: dict[str, Any]) -> tuple[list[Any], str, int]:
    """Append the transform to ``g``.

    Returns:
        The graph inputs (``ValueInfoProto``, in ``feature_names`` order), the name of X
        (float32, (batch, n_inputs)) and n_inputs.
    """
    from onnx import TensorProto, helper

    columns = feature_columns(data_state)
    impute = data_state.get("impute", "none")
    floats = {c["name"]: input_is_float(c) for c in columns}
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT if floats[name] else TensorProto.STRING, ["batch", 1])
        for name in data_state["feature_names"]
    ]
    parts, width = [], 0
    numeric = [c for c in columns if c["kind"] == "numeric"]
    if numeric:
        parts.append(_numeric(g, numeric, data_state.get("standardize", True)))
        width += len(numeric)
    for column in columns[len(numeric) :]:
        parts.append(_one_hot(g, column, impute))
        width += len(column["categories"]) + bool(column["missing_category"])
    X = parts[0] if len(parts) == 1 else g.node("Concat", parts, g.name("X_raw"), axis=1)
    return inputs, X, width


def _numeric(g: GraphBuilder, columns: list[dict[str, Any]], standardize: bool) -> str:
    """(batch, k) float32: the numeric columns, imputed, standardised."""
    names = [c["name"] for c in columns]
    X = names[0] if len(names) == 1 else g.node("Concat", names, g.name("numbers"), axis=1)
    fills = [c.get("fill") for c in columns]
    if any(f is not None for f in fills):
        X = g.node(
            "Imputer",
            [X],
            g.name("numbers_imputed"),
            domain=ML,
            imputed_value_floats=[math.nan if f is None else float(f) for f in fills],
            replaced_value_float=math.nan,
        )
    if standardize:
        mean = g.const("x_mean", np.array([c["mean"] for c in columns], dtype=np.float32))
        std = g.const("x_std", np.array([c["std"] for c in columns], dtype=np.float32))
        X = g.node("Div", [g.node("Sub", [X, mean]), std], g.name("numbers_standardized"))
    return X


def _one_hot(g: GraphBuilder, column: dict[str, Any], impute: str) -> str:
    """(batch, width) float32: one column's 0/1 inputs."""
    name, categories = column["name"], column["categories"]
    width = len(categories) + bool(column["missing_category"])
    missing = len(categories) if column["missing_category"] else UNSEEN if impute == "median" else REFUSED
    if numeric_categories(column):
        position = _number_position(g, name, categories, missing)
    else:
        keys: dict[str, int] = {}
        for position, category in enumerate(categories):
            for text in spellings(category):
                keys.setdefault(text, position)
        for text in null_spellings():
            keys.setdefault(text, missing)  # a category spelled like a null (a Parquet text "NA") stays a category
        position = g.node(
            "LabelEncoder",
            [name],
            g.name(f"{name}_position"),
            domain=ML,
            keys_strings=list(keys),
            values_int64s=list(keys.values()),
            default_int64=UNSEEN,
        )  # (batch, 1) int64
    hot = g.node("OneHotEncoder", [position], domain=ML, cats_int64s=list(range(width)), zeros=1)  # (batch, 1, width)
    hot = g.node("Flatten", [hot], g.name(f"{name}_one_hot"), axis=1)  # (batch, width)
    if missing != REFUSED:
        return hot
    refused = g.node("Equal", [position, g.const("refused", np.array(REFUSED, dtype=np.int64))])
    nan = g.node("Where", [refused, g.const("nan", np.float32(math.nan)), g.const("zero", np.float32(0.0))])
    return g.node("Add", [hot, nan], g.name(f"{name}_one_hot_or_nan"))  # NaN rows where predict refuses


def _number_position(g: GraphBuilder, name: str, categories: list, missing: int) -> str:
    """(batch, 1) int64: the position of a float32 cell among numeric categories; NaN is ``missing``."""
    found = g.node(
        "LabelEncoder",
        [name],
        g.name(f"{name}_category"),
        domain=ML,
        keys_floats=[float(c) for c in categories],
        values_int64s=list(range(len(categories))),
        default_int64=UNSEEN,
    )
    blank = g.node("IsNaN", [name])
    return g.node(
        "Where", [blank, g.const("missing", np.array(missing, dtype=np.int64)), found], g.name(f"{name}_position")
    )
