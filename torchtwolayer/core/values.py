"""Value checks after the fact: one host read of a few numbers per call, the data read in full only
when one of them is off.

A NaN or inf in X, a target outside the head's range, or a bad regression target shows in a few
numbers the call computes anyway or cheaply: the sum of X (non-finite: an inf hidden by a saturated
tanh still shows there), Y's (min, max) and, for regression targets, the cost J (non-finite). They
are read once; only when one is off are X and Y read in full, to raise the message that names the
culprit. When neither is (non-finite weights, an overflow), nothing is raised: J tells the trainer,
whose divergence rule (:mod:`~torchtwolayer.core.divergence`) takes it from there.

Under a torch.func transform the values under the wrappers are read directly; while torch.compile
traces, nothing is read.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import compat
from .heads import Head
from .targets import check_target_values, target_range, target_range_ok
from .validation import check_input_values


def check_values(X: Tensor, Y: Tensor | None = None, head: Head | None = None, n2: int = 1,
                 J: Tensor | None = None) -> None:  # fmt: skip
    """Raise the clear ``ValueError`` of a bad value of X or of Y (as :func:`~.targets.check_target`
    returns it, for ``head`` with ``n2`` outputs), reading them in full only if the probe says so.

    Args:
        X: the inputs of the call, (m, n0).
        Y: its targets, or ``None`` (a forward without a cost).
        head, n2: the head Y is for.
        J: the cost the call computed, if any: a bad Y of the identity head shows in it.
    """
    if compat.is_compiling():
        return
    if compat.transforms_active():  # wrappers: no host read of the probe; read the data beneath
        return check_all_values(X, Y, head, n2)
    probe_values(X, Y, head, n2, J)


def probe_values(X: Tensor, Y: Tensor | None = None, head: Head | None = None, n2: int = 1,
                 J: Tensor | None = None) -> None:  # fmt: skip
    """:func:`check_values` of an eager call (no torch.func transform, not compiling): the probe."""
    if Y is not None and head.name == "softmax" and Y.is_floating_point():
        check_target_values(Y, n2, head)  # soft labels: no two numbers tell, read them
    lohi = None if Y is None else target_range(_plain(Y), head)  # two 0-d tensors, or None
    if Y is None or head.name != "identity":
        J = None  # Y is told by its range or read in full: a non-finite J is the weights' (the trainer's rule)
    if X.is_cpu:  # each read a pointer access: read one by one, stop at the first that is off
        ok = math.isfinite(_plain(X).sum().item()) and (J is None or math.isfinite(J.item()))
        ok = ok and (lohi is None or target_range_ok(lohi[0].item(), lohi[1].item(), n2, head))
    else:  # each read a device synchronisation: one copy of them all
        ok = _probe_ok_on_device(X, lohi, n2, head, J)
    if not ok:
        check_all_values(X, Y, head, n2)


def _plain(t: Tensor) -> Tensor:
    """``t`` without its autograd history or forward-mode tangent, if it may have one (detach is an op:
    only where needed; torch 2.3 has no forward-mode rule for ``aminmax``)."""
    return t.detach() if t.requires_grad or compat.dual_level_open() else t


def _probe_ok_on_device(X: Tensor, lohi: tuple[Tensor, Tensor] | None, n2: int, head: Head | None,
                        J: Tensor | None) -> bool:  # fmt: skip
    """X's sum, J and Y's (min, max) fine, read in one copy to the host."""
    probe = [_plain(X).sum()] + ([] if J is None else [_plain(J)]) + ([] if lohi is None else list(lohi))
    read = torch.stack([t.to(X.dtype) for t in probe]).tolist()
    ok = all(map(math.isfinite, read[: 1 + (J is not None)]))
    return ok and (lohi is None or target_range_ok(read[-2], read[-1], n2, head))


def check_all_values(X: Tensor, Y: Tensor | None = None, head: Head | None = None, n2: int = 1) -> None:
    """Read every value of X and Y; raise the message naming the first bad one."""
    try:
        check_input_values(X)
        if Y is not None:
            check_target_values(Y, n2, head)
    except RuntimeError:  # a torch.func wrapper refused the read: this torch cannot see beneath it
        if compat.can_unwrap():
            raise
