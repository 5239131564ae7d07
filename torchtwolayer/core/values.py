"""Value checks after the fact: one host read of a few numbers per call, the data read in full only
when one of them is off.

A NaN or inf in X, a target outside the head's range, or a bad regression target shows in a few
numbers the call computes anyway or cheaply: the cost J (non-finite), the sum of X (non-finite: an
inf hidden by a saturated tanh still shows there) and Y's (min, max). They are read together, once;
only when one is off are X and Y read in full, to raise the message that names the culprit. When
neither is (non-finite weights, an overflow), nothing is raised: J tells the trainer, whose
divergence rule (:mod:`~torchtwolayer.core.divergence`) takes it from there.

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
    if Y is not None and head.name == "softmax" and Y.is_floating_point():
        check_target_values(Y, n2, head)  # soft labels: no two numbers tell, read them
    probe = [_plain(X).sum()]  # 0-d tensors
    lohi = None if Y is None else target_range(_plain(Y), head)
    if lohi is not None:
        probe += lohi
    if J is not None:
        probe.append(J)
    read = _read(probe, X.is_cpu)
    ok = all(map(math.isfinite, read))
    if lohi is not None:
        ok = ok and target_range_ok(read[1], read[2], n2, head)
    if not ok:
        check_all_values(X, Y, head, n2)


def _plain(t: Tensor) -> Tensor:
    """``t`` without its autograd history or forward-mode tangent, if it may have one (detach is an op:
    only where needed; torch 2.3 has no forward-mode rule for ``aminmax``)."""
    return t.detach() if t.requires_grad or compat.dual_level_open() else t


def _read(probe: list[Tensor], on_cpu: bool) -> list[float]:
    """The probe's numbers on the host: read one by one on the CPU (each read is a pointer access,
    cheaper than a stack), in one copy elsewhere (each read would be a device synchronisation)."""
    if on_cpu or len(probe) == 1:
        return [t.item() for t in probe]
    return torch.stack([_plain(t).to(probe[0].dtype) for t in probe]).tolist()


def check_all_values(X: Tensor, Y: Tensor | None = None, head: Head | None = None, n2: int = 1) -> None:
    """Read every value of X and Y; raise the message naming the first bad one."""
    try:
        check_input_values(X)
        if Y is not None:
            check_target_values(Y, n2, head)
    except RuntimeError:  # a torch.func wrapper refused the read: this torch cannot see beneath it
        if compat.can_unwrap():
            raise
