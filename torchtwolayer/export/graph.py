"""A small builder of ONNX graphs over ``onnx.helper``: named constants and nodes, names that never
collide with the graph's inputs (the data's column names, which may be anything).

Opsets: ``ai.onnx`` 17 and ``ai.onnx.ml`` 2 (LabelEncoder with string keys, OneHotEncoder,
Imputer), which onnxruntime has run since 1.12; IR version 8 to match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

OPSET = 17  # ai.onnx
ML_OPSET = 2  # ai.onnx.ml
ML = "ai.onnx.ml"
IR_VERSION = 8
BATCH_AXIS = "batch"


class GraphBuilder:
    """Nodes and constant tensors of one graph, under names that avoid ``reserved``.

    Args:
        reserved: names that belong to the graph's inputs and outputs.

    Example:
        >>> import numpy as np
        >>> g = GraphBuilder(["x"])
        >>> two = g.const("two", np.float32(2.0))
        >>> g.node("Mul", ["x", two])
        'mul'
    """

    def __init__(self, reserved: Iterable[str]) -> None:
        self.used = set(reserved)
        self._next: dict[str, int] = {}  # hint → the next suffix to try: linear in the graph's size
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def name(self, hint: str) -> str:
        """A fresh name: ``hint``, or ``hint_2``, ``hint_3``, ... when taken."""
        name, k = hint, self._next.get(hint, 1)
        if k > 1 or name in self.used:
            k = max(k, 2)
            while (name := f"{hint}_{k}") in self.used:
                k += 1
        self._next[hint] = k + 1
        self.used.add(name)
        return name

    def const(self, hint: str, value: Any) -> str:
        """A constant tensor (numpy array or scalar, its own dtype; strings as an object array)."""
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, domain: str = "", **attributes: Any) -> str:
        """Append ``op(inputs)`` with ``attributes``; return its (one) output's name."""
        from onnx import helper

        output = output or self.name(op.lower())
        self.nodes.append(
            helper.make_node(op, inputs, [output], name=self.name(f"node_{output}"), domain=domain, **attributes)
        )
        return output
