"""The export's self-check: onnxruntime on rows made from the checkpoint's data state must give
what ``torchtwolayer predict`` gives for the same rows (the data module's transform, the network
in torch, the data module's ``decode``), or nothing is written.

The rows cover each numeric column around its mean (and blank where the run imputes), every
category of each categorical column, one category never seen in training, and a blank cell
where the run can score one.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from ..data.values import label_text
from .model import DATA_KEY, output_names, weights_of
from .network import classes_array
from .preprocess import feature_columns, input_is_float

CHECK_ROWS = 24  # at least; more where a column has more categories, so that each is scored
TOLERANCE = 1e-5  # probabilities: absolute; values: relative to max(1, |value|). float32 sums differ between CPUs


def check_rows(data_state: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """Raw rows for every feature column, in their own type (None or NaN where blank): row 0 blank
    in imputed numbers, row 1 an unseen category, row 2 a blank category where the run scores one,
    every category in turn otherwise."""
    rng = np.random.default_rng(seed)
    rows: dict[str, np.ndarray] = {}
    imputes = data_state.get("impute", "none") == "median"
    columns = feature_columns(data_state)
    m = max([CHECK_ROWS, *(len(c["categories"]) + 3 for c in columns)])
    for c in columns:
        if c["kind"] == "numeric":
            values = c["mean"] + c["std"] * rng.normal(size=m)
            if c.get("fill") is not None:
                values[0] = math.nan
            rows[c["name"]] = values
            continue
        categories = list(c["categories"])
        values = np.empty(m, dtype=object)
        values[:] = [categories[(i - 3) % len(categories)] for i in range(m)]
        unseen = _unseen(categories)
        if unseen is not None:
            values[1] = unseen
        if imputes or c["missing_category"]:
            values[2] = None
        rows[c["name"]] = values
    return rows


def _unseen(categories: list) -> Any:
    if all(isinstance(v, str) for v in categories):
        return "\N{WHITE SQUARE} never seen " + "".join(categories)[:20]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in categories):
        return max(categories) + 1
    return None  # booleans: both usually seen


def onnx_inputs(data_state: dict[str, Any], rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph's inputs for raw rows: float32 (m, 1) with NaN (numbers, numeric categories), or strings
    (m, 1) with "" blank."""
    feeds = {}
    for c in feature_columns(data_state):
        values = rows[c["name"]]
        if input_is_float(c):
            numbers = [math.nan if v is None else v for v in values]
            feeds[c["name"]] = np.asarray(numbers, dtype=np.float32).reshape(-1, 1)
        else:
            feeds[c["name"]] = np.array([["" if v is None else label_text(v)] for v in values], dtype=object)
    return feeds


def predicted(ckpt: dict[str, Any], rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What ``predict`` writes for ``rows``: the data module's transform and decode around the
    network in torch (float32)."""
    import torch

    from ..core.module import TwoLayerNet
    from ..core.tasks import TASKS
    from ..data.schema import Schema
    from ..data.tables import from_arrays

    data_state, hp = ckpt[DATA_KEY], ckpt["hyper_parameters"]
    schema = Schema.from_state(data_state)
    logger = logging.getLogger("torchtwolayer.data")  # (its modules' loggers take this level)
    level = logger.level
    logger.setLevel(logging.ERROR)  # the note on unseen categories is for a user's file, not these rows
    try:
        X = schema.transform(from_arrays(rows, "the export's check rows")).X
    finally:
        logger.setLevel(level)
    W = {k: torch.from_numpy(v) for k, v in weights_of(ckpt).items()}
    n1, n0 = W["W1"].shape
    net = TwoLayerNet(n0, n1, W["W2"].shape[0], activation=hp["activation"], output=TASKS[data_state["task"]].head)
    net.load_state_dict(W)
    with torch.no_grad():
        A2 = net.predict_proba(torch.from_numpy(X))
    return schema.decode(A2)


def compare(ckpt: dict[str, Any], ort_outputs: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> str | None:
    """What differs between the graph's outputs and ``predict``'s columns, or None."""
    data_state = ckpt[DATA_KEY]
    names = output_names(data_state)
    if data_state["task"] == "regression":
        got, want = ort_outputs[names["values"]], np.asarray(expected["prediction"], dtype=np.float64)
        error = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
        return None if error <= TOLERANCE else f"values differ by {error:.3g} (relative) > {TOLERANCE:g}"
    P = np.stack([v for k, v in expected.items() if k != "prediction"], 1)
    got_P = ort_outputs[names["probabilities"]]
    if got_P.shape != P.shape:
        return f"probabilities have shape {got_P.shape}, predict's {P.shape}"
    error = float(np.max(np.abs(got_P - P)))
    if not error <= TOLERANCE:
        return f"probabilities differ by {error:.3g} > {TOLERANCE:g}"
    classes = classes_array(data_state["classes"])
    want = classes_array(list(expected["prediction"]))
    got = ort_outputs[names["label"]]
    for i in np.flatnonzero(got != want):  # a tie to within the tolerance may go either way
        k = list(classes).index(got[i])
        if P[i].max() - P[i, k] > TOLERANCE:
            return f"row {i}: label {got[i]!r}, predict's {want[i]!r}"
    return None


def check_export(ort: Any, data: bytes, ckpt: dict[str, Any]) -> None:
    """Run the serialised graph in onnxruntime on :func:`check_rows`; raise unless it gives
    what ``predict`` gives."""
    data_state = ckpt[DATA_KEY]
    rows = check_rows(data_state)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, onnx_inputs(data_state, rows)), strict=True)
    )
    difference = compare(ckpt, got, predicted(ckpt, rows))
    if difference is not None:
        raise RuntimeError(
            f"the exported ONNX graph disagrees with torchtwolayer predict on {len(next(iter(rows.values())))} "
            f"check rows ({difference}); "
            "nothing was written. Please report this as a bug"
        )
