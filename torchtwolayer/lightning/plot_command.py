"""``torchtwolayer plot``: a checkpoint's decision boundary, or a run's learning curves, as PNG."""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from .checkpoints import load_checkpoint


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="torchtwolayer plot", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    boundary = sub.add_parser("boundary", help="decision boundary of a checkpoint over its 2-D data")
    boundary.add_argument("--ckpt_path", required=True, help="a checkpoint written by torchtwolayer fit")
    boundary.add_argument("--dataset", help="data to draw (default: the checkpoint's training data)")
    boundary.add_argument("--output", default="decision_boundary.png", help="the PNG to write")
    curves = sub.add_parser("curves", help="learning curves of a run")
    curves.add_argument("run", help="the run folder, e.g. runs/torchtwolayer/version_0, or its metrics.csv")
    curves.add_argument("--output", help="the PNG to write (default: learning_curves.png in the run folder)")
    args = parser.parse_args(argv)
    try:
        path = _boundary(args) if args.what == "boundary" else _curves(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"torchtwolayer plot: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    return 0


def _boundary(args: argparse.Namespace) -> Path:
    from ..data.module import TwoLayerDataModule
    from ..plots import plot_decision_boundary
    from .module import TwoLayerModule

    ckpt = load_checkpoint(args.ckpt_path)
    model = TwoLayerModule(**_init_args(TwoLayerModule, ckpt["hyper_parameters"]))
    model.load_state_dict(ckpt["state_dict"])
    data_hp = _init_args(TwoLayerDataModule, ckpt.get("datamodule_hyper_parameters") or {})
    if args.dataset:
        data_hp["dataset"] = args.dataset
    dm = TwoLayerDataModule(**data_hp)
    dm.load_state_dict(ckpt[TwoLayerDataModule.__qualname__])
    X, y = dm.raw_split("predict")
    with torch.no_grad():
        return plot_decision_boundary(model, X, y, args.output, dm.transform, dm.feature_names)


def _init_args(cls: type, saved: dict) -> dict:
    """The saved hyperparameters that ``cls.__init__`` takes (LightningCLI adds private keys)."""
    names = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in saved.items() if k in names}


def _curves(args: argparse.Namespace) -> Path:
    from ..plots import plot_learning_curves

    return plot_learning_curves(args.run, args.output)
