"""Loading checkpoints safely: ``weights_only=True``, and a clear error for anything else."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..data.module import TwoLayerDataModule
from ..files import write_atomically


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path``, loaded with ``torch.load(weights_only=True)`` (no arbitrary
    unpickling), checked to be one that ``torchtwolayer fit`` wrote."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; pass the path of a .ckpt file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as error:
        raise ValueError(f"{path} cannot be read as a checkpoint (truncated, or not a PyTorch file): {error}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint written by torchtwolayer fit (no state_dict/hyper_parameters)")
    if TwoLayerDataModule.__qualname__ not in ckpt or "net.W1" not in ckpt["state_dict"]:
        raise ValueError(f"{path} is a Lightning checkpoint, but not of a torchtwolayer model and data set")
    return ckpt


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, written to a temporary file beside the target and renamed over
    it: a kill during a save leaves the previous checkpoint, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        write_atomically(path, lambda f: torch.save(checkpoint, f), binary=True)


def find_last_checkpoint(save_dir: str | Path, name: str) -> Path:
    """The newest ``last.ckpt`` under ``save_dir/name/version_*/checkpoints``."""
    paths = list(Path(save_dir, name).glob("version_*/checkpoints/last.ckpt"))
    if not paths:
        raise FileNotFoundError(
            f"--ckpt_path last: no last.ckpt under {Path(save_dir, name)}/version_*/checkpoints; "
            "train once without --ckpt_path first"
        )
    return max(paths, key=lambda p: p.stat().st_mtime_ns)
