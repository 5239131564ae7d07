"""Every private name of torch the package uses, and the APIs that changed between versions, in one place.

Each entry says why it is used, is looked up once at import (a check that it exists), and has a
public fallback taken where it is missing: the fallback is always correct, at worst slower. The
package names nothing private of torch outside this module. ``tests/test_compat.py`` forces every
fallback at once (:data:`FALLBACKS`) and runs the core gradient checks through them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function, forward_ad

# torch < 2.4 imports torch._dynamo lazily from inside a Function's apply under torch.func, and that
# first import fails half-way ("partially initialized module 'torch._dynamo'"); importing it here first
# avoids that. Newer torch needs no such import (it would cost start-up time), so only the old ones pay.
if tuple(int(p) for p in torch.__version__.split(".")[:2]) < (2, 4):
    importlib.import_module("torch._dynamo")


def _lookup(module: str, name: str) -> Any:
    """``module.name``, or ``None`` where this torch has no such thing."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


# ---- torch.func (functorch) internals ------------------------------------------------------
# Whether a torch.func transform runs: the Functions take their eager fast paths only outside one.
_transforms_active = _lookup("torch._C", "_are_functorch_transforms_active")
# Whether a tensor is a torch.func wrapper, and the tensor under it: the value checks read the data
# under vmap/grad/jvp (a wrapper refuses .item()).
_is_wrapped = _lookup("torch._C._functorch", "is_functorch_wrapped_tensor")
_get_unwrapped = _lookup("torch._C._functorch", "get_unwrapped")
# Whether a tensor is batched by the vmap that autograd.grad(is_grads_batched=True) runs over backward:
# then backward must not write in place.
_is_legacy_batched = _lookup("torch._C._functorch", "is_legacy_batchedtensor")
# Function.apply's C++ base and the unwrapping Function.apply does before calling it: together they
# skip the inspect.signature binding Function.apply does for setup_context-style Functions on every
# call (the benchmark's function section measures what this saves on small batches).
_base_apply = getattr(torch._C, "_FunctionBase", None)
_base_apply = None if _base_apply is None else vars(_base_apply).get("apply")
_unwrap_dead_wrappers = _lookup("torch._functorch.utils", "unwrap_dead_wrappers")


def transforms_active() -> bool:
    """Whether a torch.func transform is running. Fallback: ``True``, the general path."""
    return True if _transforms_active is None else _transforms_active()


# The open forward-mode dual level (-1: none): backward takes its first-order fast path only without one.
_HAS_DUAL_LEVEL = hasattr(forward_ad, "_current_level")


def dual_level_open() -> bool:
    """Whether a forward-mode AD dual level is open. Fallback: ``True``, the general path
    (backward rebuilds A1, jvp inputs are saved)."""
    return forward_ad._current_level >= 0 if _HAS_DUAL_LEVEL else True


def plain_eager() -> bool:
    """No torch.func transform running, no forward-mode dual level open, not traced by torch.compile:
    the three questions the eager paths ask on every call, in one call. Fallback: ``False``, the
    general path."""
    if _transforms_active is None or not _HAS_DUAL_LEVEL:
        return False
    return not (
        _transforms_active() or forward_ad._current_level >= 0 or (_is_compiling is not None and _is_compiling())
    )


def is_wrapped(t: Tensor) -> bool:
    """Whether ``t`` is a torch.func wrapper. Fallback: ``True`` (nothing reads its memory)."""
    return True if _is_wrapped is None else _is_wrapped(t)


def can_unwrap() -> bool:
    """Whether :func:`unwrapped` reaches the data under torch.func wrappers."""
    return _is_wrapped is not None and _get_unwrapped is not None


def unwrapped(t: Tensor) -> Tensor:
    """The plain tensor under ``t``'s torch.func wrappers (``t`` if it has none). Fallback: ``t``
    itself, which a transform may refuse to read (see :func:`can_unwrap`)."""
    if not can_unwrap():
        return t
    while _is_wrapped(t):
        t = _get_unwrapped(t)
    return t


def is_batched_for_grads(t: Tensor) -> bool:
    """Whether ``t`` is batched by ``is_grads_batched``'s vmap. Fallback: ``True`` (no in-place writes)."""
    return True if _is_legacy_batched is None else _is_legacy_batched(t)


_function_apply = vars(Function)["apply"].__func__  # Function.apply, for a subclass that overrides it


def fast_apply(cls: type[Function], args: tuple, n_tensors: int | None = None) -> Any:
    """``cls.apply(*args)`` without ``Function.apply``'s argument binding (every argument must be
    given). Fallback: ``Function.apply`` itself, also taken under a torch.func transform.

    ``Function.apply`` also unwraps dead torch.func wrappers (tensors that escaped a transform) so
    that autograd records the call on the tensors beneath. Eager callers, which know that no
    transform runs, give ``n_tensors``, the count of leading arguments that are the call's only
    tensors: those are tested instead (a quarter of the time, on six tensors), and a call with a
    wrapper among them goes through ``Function.apply``."""
    if _base_apply is None or _unwrap_dead_wrappers is None or _is_wrapped is None:
        return _function_apply(cls, *args)
    if n_tensors is None:
        if transforms_active():
            return _function_apply(cls, *args)
        return _base_apply(cls, *_unwrap_dead_wrappers(args))
    for t in args[:n_tensors]:
        if _is_wrapped(t):
            return _function_apply(cls, *args)
    return _base_apply(cls, *args)


# torch.binary_cross_entropy_with_logits, the op under F.binary_cross_entropy_with_logits, with the mean
# reduction: F's Python checks (torch-function dispatch, the reduction's name) cost 4.7 µs a call, as much
# as the op itself on a 64-row batch; its shape check is kept.
_bce_with_logits = getattr(torch, "binary_cross_entropy_with_logits", None)
_MEAN = 1  # the op's code for reduction="mean" (torch.nn._reduction.get_enum)


def bce_with_logits_mean(Z2: Tensor, Y: Tensor) -> Tensor:
    """``F.binary_cross_entropy_with_logits(Z2, Y)`` (mean over every element), Z2 and Y of one shape.
    Fallback: that function."""
    if _bce_with_logits is None:
        return F.binary_cross_entropy_with_logits(Z2, Y)
    if Z2.shape != Y.shape:  # F's one check the op lacks (it would broadcast): its message
        raise ValueError(f"Target size ({Y.size()}) must be the same as input size ({Z2.size()})")
    return _bce_with_logits(Z2, Y, None, None, _MEAN)


# nn.Module._parameters, read directly: each attribute lookup through nn.Module.__getattr__ costs
# 1.3 µs, the four of the network's a tenth of its checked call's overhead.
_HAS_PARAMETER_DICT = isinstance(getattr(torch.nn.Linear(1, 1), "_parameters", None), dict)


def parameters_named(module: torch.nn.Module, names: tuple[str, ...]) -> list[Tensor]:
    """``[getattr(module, n) for n in names]``: the same tensors (also under
    ``torch.func.functional_call``, which swaps them in the same dictionary). Fallback: the attribute
    lookups, also taken for names ``torch.nn.utils.parametrize`` or ``prune`` moved out of it."""
    if _HAS_PARAMETER_DICT:
        found = module._parameters
        try:
            return [found[n] for n in names]
        except KeyError:
            pass
    return [getattr(module, n) for n in names]


# ---- tensors -------------------------------------------------------------------------------
# Tensor._version, the in-place-change counter: trainers notice data changed under them.
_HAS_VERSION = hasattr(torch.zeros(()), "_version")


def version(t: Tensor) -> int:
    """``t``'s in-place-change counter. Fallback: 0 (a change goes unnoticed)."""
    return t._version if _HAS_VERSION else 0


def _foreach_add_loop(tensors: Sequence[Tensor], others: Sequence[Tensor], alpha: float) -> None:
    for t, o in zip(tensors, others, strict=True):
        t.add_(o, alpha=alpha)


def _foreach_mul_loop(tensors: Sequence[Tensor], factor: float) -> None:
    for t in tensors:
        t.mul_(factor)


# ``t += alpha * o`` and ``t *= factor`` for each tensor of a list, in one call (``torch._foreach_add_``,
# ``torch._foreach_mul_``: what torch.optim.SGD runs). Fallback: a loop of ``add_`` / ``mul_``.
foreach_add_: Callable[..., None] = getattr(torch, "_foreach_add_", None) or _foreach_add_loop
foreach_mul_: Callable[..., None] = getattr(torch, "_foreach_mul_", None) or _foreach_mul_loop


# The out-variant overloads of ATen's activation derivatives (``tanh_backward.grad_input``, ...):
# the fused step writes g'(Z1) * dA1 over dA1 in one kernel, measured faster than plain arithmetic.
_USE_OUT_OVERLOADS = True


def out_overload(op: Any, name: str) -> Callable[..., Tensor] | None:
    """The ATen op's overload ``name``, or ``None`` where it is missing (fallback: the caller's
    plain in-place arithmetic)."""
    if not _USE_OUT_OVERLOADS:
        return None
    try:
        return getattr(op, name)
    except (AttributeError, RuntimeError):
        return None


# ---- public APIs whose form changed ----------------------------------------------------------
_is_compiling: Callable[[], bool] | None = getattr(getattr(torch, "compiler", None), "is_compiling", None)


def is_compiling() -> bool:
    """Whether torch.compile traces this code (``torch.compiler.is_compiling``; fallback ``False``:
    a torch without it has no tracing that calls into the package's checks)."""
    return False if _is_compiling is None else _is_compiling()


def _device_autocast() -> bool:
    """Whether ``torch.is_autocast_enabled(device)`` and ``torch.get_autocast_dtype`` exist (torch ≥ 2.4)."""
    try:
        torch.is_autocast_enabled("cpu")
    except TypeError:
        return False
    return hasattr(torch, "get_autocast_dtype")


_DEVICE_AUTOCAST = _device_autocast()


def autocast_enabled(device: str) -> bool:
    """Whether autocast is on for ``device`` (torch 2.3: the per-device functions)."""
    if _DEVICE_AUTOCAST:
        return torch.is_autocast_enabled(device)
    return torch.is_autocast_cpu_enabled() if device == "cpu" else torch.is_autocast_enabled()


def autocast_dtype(device: str) -> torch.dtype:
    """The dtype autocast runs ``device`` in (torch 2.3: the per-device functions)."""
    if _DEVICE_AUTOCAST:
        return torch.get_autocast_dtype(device)
    return torch.get_autocast_cpu_dtype() if device == "cpu" else torch.get_autocast_gpu_dtype()


# What tests/test_compat.py sets to take every fallback: the module's names and their fallback values.
FALLBACKS: dict[str, object] = {
    "_transforms_active": None,
    "_is_wrapped": None,
    "_get_unwrapped": None,
    "_is_legacy_batched": None,
    "_base_apply": None,
    "_unwrap_dead_wrappers": None,
    "_bce_with_logits": None,
    "_HAS_PARAMETER_DICT": False,
    "foreach_add_": _foreach_add_loop,
    "foreach_mul_": _foreach_mul_loop,
    "_is_compiling": None,
    "_HAS_DUAL_LEVEL": False,
    "_HAS_VERSION": False,
    "_USE_OUT_OVERLOADS": False,
    "_DEVICE_AUTOCAST": False,
}
