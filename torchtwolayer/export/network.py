r"""The trained network and its head as ONNX nodes, with the outputs ``predict`` writes.

.. math::

    Z^{[2]} = g(X W^{[1]T} + b^{[1]})\, W^{[2]T} + b^{[2]} \qquad (\text{two } \texttt{Gemm} \text{ nodes})

computed in float32 (``predict`` loads any run's weights into a float32 network), then, as the
data module's ``decode`` turns A2 into the prediction file:

============ ============================================== ===============================================
task         ``probabilities`` (batch, n_classes), float32  ``label`` (batch,)
============ ============================================== ===============================================
binary       [1 − σ(Z2), σ(Z2)]                             classes[1] where σ(Z2) > 0.5, else classes[0]
multiclass   softmax(Z2)                                    classes[argmax] (the first on ties)
============ ============================================== ===============================================

regression: ``values`` (batch,), float64: :math:`Z^{[2]} \sigma_Y + \mu_Y`, the target's own units.

``label`` is in the classes' own type: int64 for integer classes, float64 for integral numbers
read as float, a string for text and for booleans (``true``/``false``, as ``predict`` writes them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.module import PARAMETERS
from .graph import GraphBuilder

# hidden activation → ONNX op and attributes (the names of core.activations.ACTIVATIONS)
ACTIVATION_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "tanh": ("Tanh", {}),
    "sigmoid": ("Sigmoid", {}),
    "relu": ("Relu", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.01}),  # core.activations.LEAKY_RELU_SLOPE
}
OUTPUTS = {"binary": ("label", "probabilities"), "multiclass": ("label", "probabilities"), "regression": ("values",)}


def classes_array(classes: list) -> np.ndarray:
    """The class values as the ``label`` output's constant: int64, float64 or strings (booleans
    as ``true``/``false``)."""
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return np.array(classes, dtype=np.int64)
    if all(isinstance(c, float) for c in classes):
        return np.array(classes, dtype=np.float64)
    texts = np.empty(len(classes), dtype=object)
    texts[:] = [("true" if c else "false") if isinstance(c, bool) else str(c) for c in classes]
    return texts


def add_network(
    g: GraphBuilder,
    X: str,
    weights: dict[str, np.ndarray],
    activation: str,
    data_state: dict[str, Any],
    outputs: dict[str, str],
) -> None:
    """Append the network on X (float32, (batch, n0)), its head and the task's outputs.

    Args:
        g: the graph being built.
        X: the name of the network's inputs.
        weights: ``W1`` (n1, n0), ``b1`` (n1,), ``W2`` (n2, n1), ``b2`` (n2,), float32.
        activation: the hidden activation's name.
        data_state: the checkpoint's data state (task, classes, y_mean, y_std).
        outputs: output role (``label``, ``probabilities``, ``values``) → its name in the graph.
    """
    from onnx import TensorProto

    if activation not in ACTIVATION_OPS and activation != "identity":
        raise ValueError(f"the checkpoint's activation {activation!r} has no ONNX form here")
    W1, b1, W2, b2 = (g.const(k, weights[k]) for k in PARAMETERS)
    A1 = g.node("Gemm", [X, W1, b1], g.name("Z1"), transB=1)  # (batch, n1)
    if activation in ACTIVATION_OPS:
        op, attributes = ACTIVATION_OPS[activation]
        A1 = g.node(op, [A1], g.name("A1"), **attributes)
    Z2 = g.node("Gemm", [A1, W2, b2], g.name("Z2"), transB=1)  # (batch, n2)
    task = data_state["task"]
    if task == "regression":
        values = g.node("Cast", [Z2], g.name("Z2_double"), to=TensorProto.DOUBLE)  # decode's float64 units
        values = g.node("Mul", [values, g.const("y_std", np.float64(data_state["y_std"]))])
        values = g.node("Add", [values, g.const("y_mean", np.float64(data_state["y_mean"]))])
        g.node("Squeeze", [values, g.const("axis_1", np.array([1], dtype=np.int64))], outputs["values"])
        return
    A2 = g.node(
        "Sigmoid" if task == "binary" else "Softmax", [Z2], g.name("A2"), **({} if task == "binary" else {"axis": 1})
    )
    if task == "binary":
        complement = g.node("Sub", [g.const("one", np.float32(1.0)), A2])
        g.node("Concat", [complement, A2], outputs["probabilities"], axis=1)  # (batch, 2)
        hot = g.node("Greater", [A2, g.const("half", np.float32(0.5))])  # (batch, 1)
        index = g.node("Cast", [hot], to=TensorProto.INT64)
        index = g.node("Squeeze", [index, g.const("axis_1", np.array([1], dtype=np.int64))], g.name("class_index"))
    else:
        g.node("Identity", [A2], outputs["probabilities"])
        index = g.node("ArgMax", [A2], g.name("class_index"), axis=1, keepdims=0)  # (batch,)
    g.node("Gather", [g.const("classes", classes_array(data_state["classes"])), index], outputs["label"], axis=0)
