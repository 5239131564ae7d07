"""``torchtwolayer plot``: a checkpoint's decision boundary, or a run's learning curves, as PNG."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from ..files import output_path
from ..parsing import CommandParser


def main(argv: Sequence[str] | None = None) -> int:
    parser = CommandParser(prog="torchtwolayer plot", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    boundary = sub.add_parser("boundary", help="decision boundary of a checkpoint over its 2-D data")
    boundary.add_argument(
        "--ckpt_path", required=True, help="a checkpoint written by torchtwolayer fit, or last|best: the newest run's"
    )
    boundary.add_argument("--dataset", help="data to draw (default: the checkpoint's training split)")
    boundary.add_argument("--output", default="decision_boundary.png", help="the PNG to write")
    boundary.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    curves = sub.add_parser("curves", help="learning curves of a run")
    curves.add_argument("run", help="the run folder, e.g. runs/torchtwolayer/version_0, or its metrics.csv")
    curves.add_argument("--output", help="the PNG to write (default: learning_curves.png in the run folder)")
    curves.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    args = parser.parse_args(argv)
    path = _boundary(args) if args.what == "boundary" else _curves(args)
    print(f"Wrote {path}")
    return 0  # errors are reported by torchtwolayer.commands


def _boundary(args: argparse.Namespace) -> Path:
    from ..plots import plot_decision_boundary
    from .checkpoints import find_checkpoint, load_data, load_model
    from .defaults import RUN_NAME, RUNS

    output = output_path(args.output, args.overwrite, "picture.png")
    ckpt_path = find_checkpoint(args.ckpt_path, RUNS, RUN_NAME)
    model = load_model(ckpt_path)
    if args.dataset is None:  # the training split, as fit's own picture draws it
        dm = load_data(ckpt_path)
        X, y = dm.raw_split("train")
    else:  # every row of the file, coloured by its target when it has one
        dm = load_data(ckpt_path, dataset=args.dataset, holdout=True)
        X, y = dm.raw_split("test" if dm.target_name in dm.read_table().names else "predict")
    with torch.no_grad():
        return plot_decision_boundary(model, X, y, output, dm.transform, dm.feature_names)


def _curves(args: argparse.Namespace) -> Path:
    from ..plots import plot_learning_curves

    output = (
        output_path(args.output, args.overwrite, "picture.png") if args.output else None
    )  # default: the run's own picture
    return plot_learning_curves(args.run, output)
