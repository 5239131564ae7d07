"""Reading a checkpoint file safely: ``torch.load(weights_only=True)``, checked to be one ``torchtwolayer fit`` wrote.

Torch only (no Lightning): both the data module (a checkpoint's learned transform) and the
Lightning layer (the model) read checkpoints through :func:`load_checkpoint`.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

DATA_STATE_KEY = "TwoLayerDataModule"  # where Lightning stores the data module's state (its class's __qualname__)


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
    if DATA_STATE_KEY not in ckpt or "net.W1" not in ckpt["state_dict"]:
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
