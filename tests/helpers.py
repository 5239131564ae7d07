"""Shared helpers for the CLI and training tests."""

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from torchtwolayer.commands import main

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def fit(*args: str) -> int:
    return main(["fit", *QUIET, *args])


def write_csv(path: Path, n: int = 120, seed: int = 0, target: bool = True) -> Path:
    """A binary problem on three numeric features (x1·x2 + 0.3 x3 > 0)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["f1", "f2", "f3", *(["label"] if target else [])])
        for row, label in zip(X, y, strict=True):
            w.writerow([*(f"{v:.6f}" for v in row), *([label] if target else [])])
    return path


def last_checkpoint(root: Path = Path("runs")) -> Path:
    paths = sorted(root.glob("torchtwolayer/version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    assert paths, f"no last.ckpt under {root}"
    return paths[-1]


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def files_under(path: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


def png_shape(path: Path) -> tuple[int, int]:
    """The height and width of a PNG file (which must be one)."""
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape[:2]


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (the scripts are files, not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
