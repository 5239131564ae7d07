"""Checkpoints for Lightning: finding ``last``/``best``, writing atomically, loading the model and the data module.

Reading and checking a checkpoint file is :mod:`torchtwolayer.checkpoint_file` (torch only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..checkpoint_file import load_checkpoint
from ..data.module import TwoLayerDataModule
from ..files import write_atomically
from .module import TwoLayerModule


def find_checkpoint(name: str, save_dir: str | Path, run_name: str) -> Path:
    """``last`` or ``best``: that checkpoint of the newest run under ``save_dir/run_name``; any
    other value is a path."""
    if name not in ("last", "best"):
        return Path(name)
    paths = list(Path(save_dir, run_name).glob(f"version_*/checkpoints/{name}.ckpt"))
    if not paths:
        hint = "train once without --ckpt_path first" if name == "last" else "best.ckpt needs a validation split"
        raise FileNotFoundError(
            f"--ckpt_path {name}: no {name}.ckpt under {Path(save_dir, run_name)}/version_*/checkpoints; {hint}"
        )
    return max(paths, key=lambda p: p.stat().st_mtime_ns)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, written to a temporary file beside the target and renamed over
    it: a kill during a save leaves the previous checkpoint, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        write_atomically(path, lambda f: torch.save(checkpoint, f), binary=True)


def load_model(path: str | Path) -> TwoLayerModule:
    """The trained module of the checkpoint at ``path``: checked by :func:`load_checkpoint`, then
    built by Lightning's ``load_from_checkpoint(weights_only=True)``, in float32 on the CPU."""
    load_checkpoint(path)
    return TwoLayerModule.load_from_checkpoint(path, map_location="cpu", weights_only=True).float()


def load_data(path: str | Path, **changes: Any) -> TwoLayerDataModule:
    """The checkpoint's data module, with its learned transform; ``changes`` override its
    settings (e.g. ``dataset`` to apply the transform to another file)."""
    load_checkpoint(path)
    return TwoLayerDataModule.load_from_checkpoint(path, weights_only=True, schema_from=str(path), **changes)
