"""Checks at the package's boundary: a clear ``TypeError``/``ValueError`` that says
what was expected and what was given, before torch fails somewhere deep inside.

Shape and dtype checks cost nothing. Value checks (label range, targets in
[0, 1], NaN) read the data; the network's own calls read them after the fact
(:mod:`~torchtwolayer.core.values`); they are skipped while ``torch.compile`` traces.
Under torch.func transforms (``vmap``, ``grad``, ``jvp``, …) a tensor is a wrapper
whose values cannot be read (``.item()``, ``bool``): :func:`values` gives the data
under the wrappers, and the checks read that, outside the transform, all of it.
"""

from __future__ import annotations

import math
import numbers
import os

import torch
from torch import Tensor

from . import compat


def values(t: Tensor) -> Tensor:
    """The plain tensor under ``t``'s torch.func wrappers, ``t`` itself outside transforms
    (and where this torch gives no way beneath them, :func:`~.compat.unwrapped`).

    Under ``vmap`` it holds every batch's values (in some layout: read it elementwise
    or through global reductions only); under ``grad``/``jvp`` the primal values.
    A value check reads it with ``.item()`` or ``bool`` where the wrapper forbids both.
    """
    return compat.unwrapped(t)


def check_input_values(X: Tensor, name: str = "X") -> None:
    """No NaN or inf in X: every value read (under torch.func wrappers, the data beneath them)."""
    if not torch.isfinite(values(X)).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")


def check_tensor(name: str, t: object) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(t).__name__}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if t.layout != torch.strided:
        raise TypeError(f"{name} is a {t.layout} tensor; the network takes dense tensors: use {name}.to_dense()")
    return t


def check_input(X: object, n0: int | None = None, name: str = "X") -> Tensor:
    """X must be a floating (m, n0) tensor with m ≥ 1."""
    X = check_tensor(name, X)
    if not X.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {X.dtype}; use {name}.float() or {name}.double()"
        )
    if X.dim() != 2:
        hint = " (a single example? use X.reshape(1, -1))" if X.dim() == 1 else ""
        raise ValueError(
            f"{name} must be 2-D with shape (m, n0), one example per row; got shape {tuple(X.shape)}{hint}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {tuple(X.shape)}): give at least one example")
    if n0 is not None and X.shape[1] != n0:
        raise ValueError(
            f"{name} has {X.shape[1]} features per row but the network expects n0 = {n0} "
            f"(W1 has shape (n1, n0)); got {name} of shape {tuple(X.shape)}"
        )
    return X


def check_parameters(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> None:
    """Parameters with ``nn.Linear`` shapes, X's dtype and X's device."""
    check_input(X)
    for name, t in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        check_tensor(name, t)
        if t.dtype != X.dtype:
            raise TypeError(
                f"{name} has dtype {t.dtype} but X has dtype {X.dtype}; "
                f"give all tensors one dtype, e.g. X.to({t.dtype})"
            )
        if t.device != X.device:
            raise ValueError(f"{name} is on {t.device} but X is on {X.device}; move them to one device")
    if W1.dim() != 2:
        raise ValueError(f"W1 must have shape (n1, n0), got {tuple(W1.shape)}")
    n1, n0 = W1.shape
    check_input(X, n0)
    if tuple(b1.shape) != (n1,):
        raise ValueError(f"b1 must have shape (n1,) = ({n1},), got {tuple(b1.shape)}")
    if W2.dim() != 2 or W2.shape[1] != n1:
        raise ValueError(f"W2 must have shape (n2, n1) with n1 = {n1}, got {tuple(W2.shape)}")
    n2 = W2.shape[0]
    if tuple(b2.shape) != (n2,):
        raise ValueError(f"b2 must have shape (n2,) = ({n2},), got {tuple(b2.shape)}")


def positive_int(name: str, value: object) -> int:
    """``value`` as an int ≥ 1 (not a bool, not a float), or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def finite_number(name: str, value: object, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a finite float in [low, high), or a clear error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if not low <= value < high:
        bounds = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g})"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return float(value)


def positive_number(name: str, value: object) -> float:
    """``value`` as a finite float > 0 (a learning rate, a scale)."""
    if not finite_number(name, value) > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def check_allocation(what: str, n_bytes: int, device: torch.device | str | None = None) -> None:
    """A ``ValueError`` naming ``what`` when ``n_bytes`` cannot fit in ``device``'s memory, before
    torch tries (and fails deep inside, or the system starts swapping)."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda":
        available = torch.cuda.mem_get_info(device)[1]
    elif device.type == "cpu":
        available = _physical_memory()
    else:
        return
    if n_bytes > available:
        raise ValueError(
            f"{what} needs {_size(n_bytes)} but {device.type} memory is {_size(available)}; make it smaller"
        )


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: no check
        return 1 << 62


def _size(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    raise AssertionError  # unreachable


def check_sgd(lr: object, momentum: object, nesterov: object, weight_decay: object) -> None:
    """SGD's settings, as every trainer in the package takes them: lr > 0, momentum in [0, 1)
    (from 1 on the steps grow without bound), weight_decay ≥ 0, Nesterov only with momentum."""
    positive_number("lr", lr)
    finite_number("momentum", momentum, 0.0, 1.0)
    finite_number("weight_decay", weight_decay, 0.0)
    if nesterov and not momentum:
        raise ValueError("nesterov=True needs a momentum above 0")
