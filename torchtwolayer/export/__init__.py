r"""``torchtwolayer export``: a trained run as one ONNX graph that scores **raw** rows as
``torchtwolayer predict`` does, usable from any language with an ONNX runtime.

The graph holds the data's whole transform (median imputation, one-hot categories, standardisation;
:mod:`.preprocess`), the network and its head (:mod:`.network`), built with ``onnx.helper`` from
ONNX's standard ``ai.onnx`` and ``ai.onnx.ml`` operators, from the checkpoint's weights and its
plain-dict data state (:mod:`.model`); the command checks it in onnxruntime against ``predict``
before writing it (:mod:`.selfcheck`).

onnx and onnxruntime are imported when an export runs, never by ``import torchtwolayer``.
"""

from .command import MISSING_EXTRA, export_onnx, main

__all__ = ["MISSING_EXTRA", "export_onnx", "main"]
