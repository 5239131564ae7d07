r"""``torchtwolayer export``: a trained run as one ONNX graph, usable from any language.

The graph takes the **raw** features, as they are in the CSV file, and does what
``torchtwolayer predict`` does, in one piece:

.. math::

    X' = (X - \mu_X) / \sigma_X, \qquad Z^{[2]} = g(X' W^{[1]T} + b^{[1]})\, W^{[2]T} + b^{[2]}, \qquad
    \text{out} = \begin{cases}
        \sigma(Z^{[2]}) & \text{binary: } P(\text{class}_1),\ (m, 1) \\
        \operatorname{softmax}(Z^{[2]}) & \text{multi-class: } P(\text{class}_k),\ (m, K) \\
        Z^{[2]} \sigma_Y + \mu_Y & \text{regression: the target's own units},\ (m, 1)
    \end{cases}

Input ``features`` (float32, (batch, n_features), any batch); output ``probabilities``
or ``values``. The model's metadata holds the feature names (the column order), the
target's name, the task and the class values (see :func:`onnx_metadata`).

The network's forward is the hand-written ``torch.autograd.Function`` ``TwoLayer``:
``torch.export`` records what its ``forward`` computes (``addmm``, ``tanh``, ``addmm``)
and leaves its ``backward`` out, which inference does not need.
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .core.heads import get_head
from .core.module import TwoLayerNet
from .files import output_path
from .lightning.checkpoints import find_checkpoint, load_checkpoint
from .lightning.defaults import RUN_NAME, RUNS

INPUT_NAME = "features"
OUTPUT_NAMES = {"binary": "probabilities", "multiclass": "probabilities", "regression": "values"}
BATCH_AXIS = "batch"
CHECK_ROWS = 64  # rows on which onnxruntime must agree with PyTorch before the file is written
CHECK_TOLERANCE = 1e-5  # max |onnx − torch|, relative to max(1, |torch|)
MISSING_EXTRA = "pip install torchtwolayer[onnx]"


class Standardize(nn.Module):
    r"""Raw features → the network's inputs, with the training split's statistics.

    .. math::

        X' = (X - \mu) / \sigma

    Args:
        mean: the mean μ of every feature on the training rows.
        std: the standard deviation σ of every feature on the training rows.

    Shape:
        - Input X: (m, n_features)
        - Output X': (m, n_features)

    Example:
        >>> import torch
        >>> Standardize([1.0, 2.0], [2.0, 4.0])(torch.tensor([[3.0, 2.0]]))
        tensor([[1., 0.]])
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, X: Tensor) -> Tensor:
        return (X - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"n_features={self.mean.numel()}"


class Predictor(nn.Module):
    r"""Raw features → what the trained run predicts: preprocessing, the network, the head's link
    A2 = head(Z2) and, for regression, the target's own units A2 σ_Y + μ_Y.

    Args:
        preprocess: raw features → the network's inputs (see :func:`preprocessing_module`).
        net: the trained network.
        y_mean, y_std: the regression target's standardisation (0 and 1 for classifiers).

    Shape:
        - Input features: (m, n0), raw
        - Output: (m, n2): probabilities (sigmoid, softmax heads) or values (identity head)

    Example:
        >>> import torch
        >>> from torchtwolayer import TwoLayerNet
        >>> net = TwoLayerNet(2, 3, output="identity", init="course", seed=0)  # zero biases
        >>> predictor = Predictor(Standardize([0.0, 0.0], [1.0, 1.0]), net, y_mean=50.0, y_std=10.0)
        >>> predictor(torch.zeros(2, 2)).tolist()  # Z2 = 0: the target's mean
        [[50.0], [50.0]]
    """

    def __init__(self, preprocess: nn.Module, net: TwoLayerNet, y_mean: float = 0.0, y_std: float = 1.0) -> None:
        super().__init__()
        self.preprocess, self.net = preprocess, net
        self.y_mean, self.y_std = float(y_mean), float(y_std)

    def forward(self, features: Tensor) -> Tensor:
        X = self.preprocess(features)  # (m, n0)
        A2 = get_head(self.net.output).link(self.net(X))  # (m, n2)
        if self.net.output == "identity":
            return A2 * self.y_std + self.y_mean  # back to the target's units
        return A2

    def extra_repr(self) -> str:
        return f"y_mean={self.y_mean:g}, y_std={self.y_std:g}" if self.net.output == "identity" else ""


def preprocessing_module(data_state: dict[str, Any]) -> nn.Module:
    """The data module's transform of raw features, from its checkpoint state, as a module.

    The one place that turns the data module's saved state into graph operations: today the
    standardisation ``(X − x_mean) / x_std`` of :meth:`TwoLayerDataModule.transform`.
    """
    return Standardize(data_state["x_mean"], data_state["x_std"])


def inference_module(ckpt_path: str | Path) -> Predictor:
    """The :class:`Predictor` of a checkpoint, in float32 and eval mode: raw features in,
    probabilities or target values out."""
    return _predictor_and_data_state(ckpt_path)[0]


def _predictor_and_data_state(ckpt_path: str | Path) -> tuple[Predictor, dict[str, Any]]:
    """The checkpoint checked and read once, then built by Lightning's ``load_from_checkpoint``."""
    from .data.module import TwoLayerDataModule
    from .lightning.module import TwoLayerModule

    data_state = load_checkpoint(ckpt_path)[TwoLayerDataModule.__qualname__]
    model = TwoLayerModule.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
    n_features = len(data_state["feature_names"])
    if model.net.n0 != n_features:
        raise ValueError(
            f"the checkpoint's network takes {model.net.n0} features but its data module has {n_features}; "
            "the checkpoint is inconsistent: export another one"
        )
    predictor = Predictor(preprocessing_module(data_state), model.net, data_state["y_mean"], data_state["y_std"])
    return predictor.float().eval(), data_state  # float32, whatever precision trained it


def onnx_metadata(data_state: dict[str, Any]) -> dict[str, str]:
    """What a user in another language needs beside the graph, as ONNX ``metadata_props``:

    ``feature_names`` (JSON list: the input's column order), ``target_name``, ``task``, ``classes``
    (JSON list of class values, ``null`` for regression; binary: the output is P(``classes[1]``);
    multi-class: column k is P(``classes[k]``)) and ``output`` (the output's name).
    """
    classes = data_state["classes"]
    if classes is not None:
        classes = [int(c) if float(c).is_integer() else c for c in classes]
    return {
        "feature_names": json.dumps(list(data_state["feature_names"])),
        "target_name": str(data_state["target_name"]),
        "task": str(data_state["task"]),
        "classes": json.dumps(classes),
        "output": OUTPUT_NAMES[data_state["task"]],
    }


def export_onnx(
    ckpt_path: str | Path,
    output: str | Path = "model.onnx",
    *,
    overwrite: bool = False,
    check: bool = True,
) -> Path:
    """Write the ONNX graph of a checkpoint: raw features in, probabilities or target values out.

    Args:
        ckpt_path: a checkpoint written by ``torchtwolayer fit``, or ``"last"``: the newest run's
            ``last.ckpt`` under ``runs/torchtwolayer``.
        output: the ``.onnx`` file to write (atomically: a kill leaves no part of one).
        overwrite: replace ``output`` if it exists (otherwise a ``FileExistsError``).
        check: run the graph in onnxruntime on rows around the training data's mean and refuse to
            write it unless it agrees with PyTorch to 1e-5 (relative to max(1, |value|)).

    Returns:
        The path written.

    Needs the ``onnx`` extra (onnx, onnxscript, onnxruntime): ``pip install torchtwolayer[onnx]``.
    """
    onnx, ort = _import_onnx(check)
    output = output_path(output, overwrite, "model.onnx")
    ckpt_path = find_checkpoint(str(ckpt_path), RUNS, RUN_NAME)
    predictor, data_state = _predictor_and_data_state(ckpt_path)
    proto = _to_onnx(predictor, OUTPUT_NAMES[data_state["task"]], onnx_metadata(data_state), _doc_string(data_state))
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if check:
        _check_against_torch(ort, data, predictor)
    from .files import write_atomically

    return write_atomically(output, lambda f: f.write(data), binary=True)


def _import_onnx(with_runtime: bool) -> tuple[Any, Any]:
    """onnx (and onnxruntime), with an error naming the extra when one is missing."""
    try:
        import onnx
        import onnxscript  # noqa: F401  torch.onnx's exporter needs it

        ort = None
        if with_runtime:
            import onnxruntime as ort
    except ImportError as error:
        missing = getattr(error, "name", None) or "a package"
        raise ImportError(
            f"exporting to ONNX needs the onnx extra (onnx, onnxscript, onnxruntime), but {missing} "
            f"cannot be imported: {MISSING_EXTRA}"
        ) from None
    return onnx, ort


def _to_onnx(predictor: Predictor, output_name: str, metadata: dict[str, str], doc: str) -> Any:
    """``torch.export`` with a dynamic batch, then ``torch.onnx.export`` of that program, as a
    ``ModelProto`` with ``metadata`` in its ``metadata_props`` and ``doc`` as its doc string.

    Exporting the program ourselves (rather than handing the module to ``torch.onnx.export``)
    fixes how the graph is captured: non-strict ``torch.export``, no fallback strategy.
    """
    example = predictor.preprocess.mean.repeat(2, 1)  # (2, n_features)
    batch = torch.export.Dim(BATCH_AXIS)
    with torch.no_grad(), _quiet_exporter():
        program = torch.export.export(predictor, (example,), dynamic_shapes={INPUT_NAME: {0: batch}}, strict=False)
        onnx_program = torch.onnx.export(
            program,
            input_names=[INPUT_NAME],
            output_names=[output_name],
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    batch_dim = onnx_program.model.graph.inputs[0].shape[0]
    onnx_program.rename_axes({batch_dim: BATCH_AXIS})
    onnx_program.model.metadata_props.update(metadata)
    onnx_program.model.doc_string = doc
    return onnx_program.model_proto


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Noise for this graph: a logged warning per torchvision op the ONNX exporter cannot register,
    and a deprecation inside ``torch.export``'s own pytree code."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _doc_string(data_state: dict[str, Any]) -> str:
    task, name = data_state["task"], OUTPUT_NAMES[data_state["task"]]
    meaning = {
        "binary": "(batch, 1): the probability of classes[1]",
        "multiclass": "(batch, n_classes): column k is the probability of classes[k]",
        "regression": f"(batch, 1): {data_state['target_name']} in its own units",
    }[task]
    return (
        f"torchtwolayer {task} model. Input {INPUT_NAME!r}: float32 (batch, n_features), raw features in the "
        f"order of metadata 'feature_names'. Output {name!r} {meaning}."
    )


def _check_against_torch(ort: Any, data: bytes, predictor: Predictor) -> None:
    """Refuse a graph that onnxruntime runs differently from PyTorch."""
    mean, std = predictor.preprocess.mean, predictor.preprocess.std
    gen = torch.Generator().manual_seed(0)
    features = mean + std * torch.randn(CHECK_ROWS, mean.numel(), generator=gen)  # (rows, n_features), raw units
    with torch.no_grad():
        expected = predictor(features).numpy()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {INPUT_NAME: features.numpy()})
    error = float((abs(got - expected) / abs(expected).clip(min=1.0)).max())
    if got.shape != expected.shape or not error <= CHECK_TOLERANCE:
        raise RuntimeError(
            f"the exported ONNX graph disagrees with PyTorch (shape {got.shape} vs {expected.shape}, relative "
            f"error {error:.3g} > {CHECK_TOLERANCE:g}); nothing was written. Please report this as a bug"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``torchtwolayer export``: write a checkpoint's ONNX graph; exit status 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="torchtwolayer export",
        description="Write a trained run as one ONNX graph: raw features (float32, (batch, n_features)) in; "
        "probabilities (binary: (batch, 1), multi-class: (batch, n_classes)) or regression values in the "
        "target's units out. The feature names and class values are in the model's metadata. "
        f"Needs the onnx extra: {MISSING_EXTRA}.",
    )
    parser.add_argument(
        "--ckpt_path",
        required=True,
        help="a checkpoint written by torchtwolayer fit, or 'last': the newest runs/torchtwolayer/version_*/"
        "checkpoints/last.ckpt",
    )
    parser.add_argument("--output", default="model.onnx", help="the ONNX file to write (default: model.onnx)")
    parser.add_argument(
        "--overwrite",
        nargs="?",
        const=True,
        default=False,
        type=_boolean,
        metavar="true|false",
        help="replace --output if it exists (--overwrite alone means true)",
    )
    args = parser.parse_args(argv)
    path = export_onnx(args.ckpt_path, args.output, overwrite=args.overwrite)  # errors: torchtwolayer.commands
    print(f"Wrote {path}")
    return 0


def _boolean(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
