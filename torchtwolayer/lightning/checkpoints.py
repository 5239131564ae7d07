"""Loading checkpoints safely: ``weights_only=True``, and a clear error for anything else."""

from __future__ import annotations

import logging
import pickle
import warnings
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..data.module import TwoLayerDataModule
from ..files import remove_stale_temporaries, write_atomically
from .module import TwoLayerModule

log = logging.getLogger(__name__)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path``, loaded with ``torch.load(weights_only=True)`` (no arbitrary
    unpickling), checked to be one that ``torchtwolayer fit`` wrote: its four parameters have
    the shapes its hyperparameters say, and finite values."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint {str(path)!r} is a folder; pass the path of a .ckpt file in it")
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; pass the path of a .ckpt file")
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} is not a regular file; pass the path of a .ckpt file")
    try:
        with warnings.catch_warnings():  # torch's advice on pickle protocols is not the user's to act on
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (PermissionError, IsADirectoryError):
        raise
    except (
        RuntimeError,
        EOFError,
        OSError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
        AttributeError,
    ) as error:
        reason = (
            str(error).split("\n")[0] if "weights_only" not in str(error) else "it holds objects other than tensors"
        )
        raise ValueError(
            f"{path} cannot be read as a checkpoint (truncated, edited or not a PyTorch file): {reason}"
        ) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict) or "hyper_parameters" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint written by torchtwolayer fit (no state_dict/hyper_parameters)")
    if TwoLayerDataModule.__qualname__ not in ckpt or "net.W1" not in ckpt["state_dict"]:
        raise ValueError(f"{path} is a Lightning checkpoint, but not of a torchtwolayer model and data set")
    if "pytorch-lightning_version" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint written by torchtwolayer fit (no Lightning version)")
    _check_weights(path, ckpt)
    return ckpt


def _check_weights(path: Path, ckpt: dict[str, Any]) -> None:
    hp, state = ckpt["hyper_parameters"], ckpt["state_dict"]
    try:
        n0, n1, n2 = (int(hp[k]) for k in ("n_features", "hidden_size", "n_outputs"))
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{path}: its hyperparameters lack the network's sizes; it is not a torchtwolayer checkpoint"
        ) from None
    expected = {"net.W1": (n1, n0), "net.b1": (n1,), "net.W2": (n2, n1), "net.b2": (n2,)}
    for name, shape in expected.items():
        W = state.get(name)
        if not isinstance(W, torch.Tensor) or tuple(W.shape) != shape:
            got = "missing" if W is None else f"shape {tuple(getattr(W, 'shape', ()))}"
            raise ValueError(f"{path} is damaged: {name} should have shape {shape} but is {got}")
        if not W.is_floating_point() or not torch.isfinite(W).all():
            raise ValueError(f"{path} is damaged: {name} holds NaN, inf or non-float values")


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
