"""``torchtwolayer export`` and :func:`export_onnx`: a trained run as one ONNX file, checked in
onnxruntime against ``predict`` before it is written."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..parsing import CommandParser

MISSING_EXTRA = "pip install torchtwolayer[onnx]"


def export_onnx(
    ckpt_path: str | Path, output: str | Path = "model.onnx", *, overwrite: bool = False, check: bool = True
) -> Path:
    """Write the ONNX graph of a checkpoint: raw feature columns in; ``label`` and ``probabilities``,
    or ``values`` in the target's units, out (see :mod:`torchtwolayer.export`).

    Args:
        ckpt_path: a checkpoint written by ``torchtwolayer fit``, or ``"last"``: the newest run's
            ``last.ckpt`` under ``runs/torchtwolayer``.
        output: the ``.onnx`` file to write (atomically: a kill leaves no part of one).
        overwrite: replace ``output`` if it exists (otherwise a ``FileExistsError``).
        check: run the graph in onnxruntime on rows made from the data state (every category, one
            never seen, blank cells where the run scores them) and refuse to write it unless it
            gives what ``predict`` gives: the same labels, probabilities to 1e-5, values to 1e-5
            relative to max(1, |value|).

    Returns:
        The path written.

    Needs the ``onnx`` extra (onnx, onnxruntime): ``pip install torchtwolayer[onnx]``.
    """
    ort = _import_onnx(check)
    from ..files import output_path, write_atomically
    from ..lightning.checkpoints import find_checkpoint, load_checkpoint
    from ..lightning.defaults import RUN_NAME, RUNS
    from .model import onnx_model
    from .selfcheck import check_export

    output = output_path(output, overwrite, "model.onnx")
    ckpt = load_checkpoint(find_checkpoint(str(ckpt_path), RUNS, RUN_NAME))
    data = onnx_model(ckpt).SerializeToString()
    if check:
        check_export(ort, data, ckpt)
    return write_atomically(output, lambda f: f.write(data), binary=True)


def _import_onnx(with_runtime: bool) -> Any:
    """onnxruntime (None without ``with_runtime``), once onnx is known to import; an error naming
    the extra when one is missing."""
    try:
        import onnx  # noqa: F401  the graph is built with it

        ort = None
        if with_runtime:
            import onnxruntime as ort
    except ImportError as error:
        missing = getattr(error, "name", None) or "a package"
        raise ImportError(
            f"exporting to ONNX needs the onnx extra (onnx, onnxruntime), but {missing} cannot be imported: "
            f"{MISSING_EXTRA}"
        ) from None
    return ort


def main(argv: Sequence[str] | None = None) -> int:
    """``torchtwolayer export``: write a checkpoint's ONNX graph; exit status 2 on bad input."""
    parser = CommandParser(
        prog="torchtwolayer export",
        description="Write a trained run as one ONNX graph that scores raw rows as torchtwolayer predict does: one "
        "input per feature column, named as in the data file, shape (batch, 1) (numbers float32 with NaN for a "
        "blank cell, categories as strings); outputs label and probabilities (classifiers) or values (regression, "
        f"in the target's units). Needs the onnx extra: {MISSING_EXTRA}.",
    )
    parser.add_argument(
        "--ckpt_path",
        required=True,
        help="a checkpoint written by torchtwolayer fit, or 'last': the newest runs/torchtwolayer/version_*/"
        "checkpoints/last.ckpt",
    )
    parser.add_argument("--output", default="model.onnx", help="the ONNX file to write (default: model.onnx)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    args = parser.parse_args(argv)
    path = export_onnx(args.ckpt_path, args.output, overwrite=args.overwrite)  # errors: torchtwolayer.commands
    print(f"Wrote {path}")
    return 0
