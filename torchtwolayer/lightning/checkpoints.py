"""Checkpoints for Lightning: finding ``last``/``best``, writing atomically, loading the model and the data module.

Reading and checking a checkpoint file is :mod:`torchtwolayer.checkpoint_file` (torch only).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..checkpoint_file import load_checkpoint
from ..data.module import TwoLayerDataModule
from ..files import remove_stale_temporaries, write_atomically
from .module import TwoLayerModule

log = logging.getLogger(__name__)


def find_checkpoint(name: str, save_dir: str | Path, run_name: str) -> Path:
    """``last`` or ``best``: that checkpoint of the newest run under ``save_dir/run_name``, named in
    a one-line note (its run folder and when it was saved); any other value is a path. The runs'
    checkpoint folders are cleared of the temporary files a killed save left."""
    if name not in ("last", "best"):
        return Path(name)
    for folder in Path(save_dir, run_name).glob("version_*/checkpoints"):
        remove_stale_temporaries(folder)
    paths = list(Path(save_dir, run_name).glob(f"version_*/checkpoints/{name}.ckpt"))
    if not paths:
        hint = "train once without --ckpt_path first" if name == "last" else "best.ckpt needs a validation split"
        raise FileNotFoundError(
            f"--ckpt_path {name}: no {name}.ckpt under {Path(save_dir, run_name)}/version_*/checkpoints; {hint}"
        )
    path = max(paths, key=lambda p: p.stat().st_mtime_ns)
    saved = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    log.warning(f"note: --ckpt_path {name} is {path}: run {path.parents[1].name}, saved {saved}")
    return path


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
