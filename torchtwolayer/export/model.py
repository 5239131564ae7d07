"""A checkpoint as one ONNX model: the data's transform, the network, the head, the outputs, and
the metadata a user in another language needs (see :func:`onnx_metadata`)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..core.module import PARAMETERS
from ..data.schema_state import check_state
from ..data.values import label_text
from .graph import BATCH_AXIS, IR_VERSION, ML, ML_OPSET, OPSET, GraphBuilder
from .network import OUTPUTS, add_network, classes_array
from .preprocess import add_preprocessing, feature_columns, numeric_categories

DATA_KEY = "TwoLayerDataModule"  # the checkpoint's entry with the data module's plain-dict state


def weights_of(ckpt: dict[str, Any]) -> dict[str, np.ndarray]:
    """``W1``, ``b1``, ``W2``, ``b2`` of a checkpoint as float32 numpy arrays, as ``predict`` loads
    them into its float32 network whatever precision trained them."""
    return {k: ckpt["state_dict"][f"net.{k}"].detach().cpu().float().numpy() for k in PARAMETERS}


def output_names(data_state: dict[str, Any]) -> dict[str, str]:
    """Output role → name in the graph: ``label``/``probabilities`` or ``values``, with ``_2``
    appended to one a feature column already has."""
    g = GraphBuilder(data_state["feature_names"])
    return {role: g.name(role) for role in OUTPUTS[data_state["task"]]}


def onnx_metadata(data_state: dict[str, Any]) -> dict[str, str]:
    """The model's ``metadata_props``, JSON or plain text:

    ``feature_names`` (the inputs, in the file's order), ``categories`` (per categorical column,
    in one-hot order, the texts its input recognises, or the numbers for a float32 input),
    ``target_name``, ``task``, ``classes`` (the class values in their own type; ``probabilities``
    column k is P(``classes[k]``); ``null`` for regression) and ``outputs`` (the output names).
    """
    columns = feature_columns(data_state)
    return {
        "feature_names": json.dumps(list(data_state["feature_names"])),
        "categories": json.dumps(
            {
                c["name"]: [_number(v) if numeric_categories(c) else label_text(v) for v in c["categories"]]
                for c in columns
                if c["kind"] == "categorical"
            }
        ),
        "target_name": str(data_state["target_name"]),
        "task": str(data_state["task"]),
        "classes": json.dumps(data_state["classes"]),
        "outputs": json.dumps(list(output_names(data_state).values())),
    }


def _number(value: Any) -> int | float:
    return int(value) if isinstance(value, int | np.integer) else float(value)


def onnx_model(ckpt: dict[str, Any]) -> Any:
    """The ``ModelProto`` of a checkpoint as ``torchtwolayer fit`` writes it (checked by
    :func:`~torchtwolayer.lightning.checkpoints.load_checkpoint`), checked by ``onnx.checker``."""
    import onnx
    from onnx import TensorProto, helper

    data_state, hp = ckpt[DATA_KEY], ckpt["hyper_parameters"]
    weights = weights_of(ckpt)
    check_state(data_state, weights["W1"].shape[1], weights["W2"].shape[0])  # (names the damaged field)
    outputs = output_names(data_state)
    g = GraphBuilder([*data_state["feature_names"], *outputs.values()])
    try:
        inputs, X, width = add_preprocessing(g, data_state)
        n0 = weights["W1"].shape[1]
        if width != n0:
            raise ValueError(f"its data state makes {width} inputs but its network takes {n0}")
        add_network(g, X, weights, hp["activation"], data_state, outputs)
    except (KeyError, TypeError, ValueError) as error:
        problem = f"it has no field {error}" if isinstance(error, KeyError) else str(error)
        raise ValueError(f"the checkpoint is damaged: {problem}; export another one") from None
    value_infos = {
        "values": (TensorProto.DOUBLE, [BATCH_AXIS]),
        "probabilities": (TensorProto.FLOAT, [BATCH_AXIS, len(data_state["classes"] or ())]),
    }
    if data_state["task"] != "regression":
        label_type = helper.np_dtype_to_tensor_dtype(np.dtype(classes_array(data_state["classes"]).dtype))
        value_infos["label"] = (label_type, [BATCH_AXIS])
    graph = helper.make_graph(
        g.nodes,
        "torchtwolayer",
        inputs,
        [helper.make_tensor_value_info(name, *value_infos[role]) for role, name in outputs.items()],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(ML, ML_OPSET)],
        ir_version=IR_VERSION,
        producer_name="torchtwolayer",
        doc_string=_doc_string(data_state, outputs),
    )
    helper.set_model_props(model, onnx_metadata(data_state))
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        first = str(error).strip().splitlines()[0]
        raise ValueError(
            f"the checkpoint is damaged: its graph is not valid ONNX ({first}); export another one"
        ) from None
    return model


def _doc_string(data_state: dict[str, Any], outputs: dict[str, str]) -> str:
    meaning = {
        "label": "(batch,): the predicted class, in the classes' own type",
        "probabilities": "(batch, n_classes) float32: column k is the probability of classes[k]",
        "values": f"(batch,) float64: {data_state['target_name']} in its own units",
    }
    return (
        f"torchtwolayer {data_state['task']} model. Inputs: one per feature column, named as in the data file, "
        "shape (batch, 1): float32 for numeric columns (NaN for a blank cell), string for categorical ones. "
        + " ".join(f"Output {name!r} {meaning[role]}." for role, name in outputs.items())
    )
