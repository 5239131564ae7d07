"""Targets Y: the form each head takes, checked at the package's boundary, and made dense
(m, n2) for the equations. Every path to the Functions takes Y through here.

- sigmoid: values in [0, 1], (m, n2), or (m,) when n2 = 1; integer or bool 0/1 labels too;
- softmax: class indices (m,) in [0, n2), or probabilities (m, n2) whose rows sum to 1;
- identity: finite values, (m, n2), or (m,) when n2 = 1.

:func:`check_target` checks the form (shape, dtype: free); :func:`check_target_values` reads
every value; :func:`target_range` gives the two numbers from which :mod:`~torchtwolayer.core.values`
tells, after the fact, whether the values need reading at all.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .heads import Head
from .validation import check_tensor, values


def check_target(Y: object, m: int, n2: int, head: Head, dtype: torch.dtype) -> Tensor:
    """Y in the form ``head`` needs (its values are not read); returns it as (m, n2) floats, or (m,)
    class indices.

    - sigmoid: shape (m, n2), or (m,) when n2 = 1; integer or bool 0/1 labels are cast to X's dtype.
    - softmax: class indices (m,) of an integer dtype, or probabilities (m, n2) of X's dtype.
    - identity: shape (m, n2), or (m,) when n2 = 1.
    """
    Y = check_tensor("Y", Y)
    if Y.is_complex():
        raise TypeError(f"Y must be real, got dtype {Y.dtype}")
    if head.name == "softmax":
        return _check_softmax_target(Y, m, n2, dtype)
    if not Y.is_floating_point():
        Y = Y.to(dtype)
    elif Y.dtype != dtype:
        raise TypeError(f"Y has dtype {Y.dtype} but X has dtype {dtype}; use Y.to(X.dtype)")
    if Y.dim() == 1 and n2 == 1:
        Y = Y.unsqueeze(1)  # (m,) -> (m, 1)
    if tuple(Y.shape) != (m, n2):
        one_d = " or (m,)" if n2 == 1 else ""
        raise ValueError(
            f"Y for the {head.name!r} head must have shape (m, n2) = ({m}, {n2}){one_d}; got {tuple(Y.shape)}"
        )
    return Y


def _check_softmax_target(Y: Tensor, m: int, n2: int, dtype: torch.dtype) -> Tensor:
    if n2 < 2:
        raise ValueError(
            f"the 'softmax' head needs n2 >= 2 outputs (one per class), got n2 = {n2}; "
            "for two classes with one output use output='sigmoid'"
        )
    if Y.dtype == torch.bool or (not Y.is_floating_point() and Y.dim() != 1):
        raise TypeError(
            f"Y for the 'softmax' head must be class indices (m,) of an integer dtype "
            f"or probabilities (m, n2) of X's dtype; got dtype {Y.dtype}, shape {tuple(Y.shape)}"
        )
    if not Y.is_floating_point():
        if tuple(Y.shape) != (m,):
            raise ValueError(f"class indices Y must have shape (m,) = ({m},), got {tuple(Y.shape)}")
        return Y.long()
    if Y.dtype != dtype:
        raise TypeError(f"Y has dtype {Y.dtype} but X has dtype {dtype}; use Y.to(X.dtype)")
    if tuple(Y.shape) != (m, n2):
        raise ValueError(
            f"probability targets Y for the 'softmax' head must have shape (m, n2) = "
            f"({m}, {n2}); got {tuple(Y.shape)}. Class indices have shape (m,) and an integer dtype"
        )
    return Y


def check_target_values(Y: Tensor, n2: int, head: Head) -> None:
    """Every value of Y (as :func:`check_target` returns it) is one ``head`` takes, or a ``ValueError``
    naming the range. Under torch.func wrappers the data beneath them is read."""
    Y_ = values(Y.detach())
    if head.name == "identity" and not torch.isfinite(Y_).all():
        raise ValueError("Y contains NaN or infinite values; drop those rows or impute the target first")
    if head.name == "sigmoid":
        lo, hi = (v.item() for v in torch.aminmax(Y_))
        if not target_range_ok(lo, hi, n2, head):  # also catches NaN
            raise ValueError(
                "Y for the 'sigmoid' head must lie in [0, 1] (binary or multi-label targets); "
                f"got values from {lo:g} to {hi:g}. "
                "For regression use output='identity'; for classes use output='softmax'"
            )
    if head.name == "softmax" and not Y_.is_floating_point():
        lo, hi = (v.item() for v in torch.aminmax(Y_))
        if not target_range_ok(lo, hi, n2, head):
            raise ValueError(
                f"class indices Y must lie in [0, {n2 - 1}] for n2 = {n2} classes; got values from {lo} to {hi}"
            )
    if head.name == "softmax" and Y_.is_floating_point():
        tol = 1e-4 if Y_.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-8
        Y = Y.detach()  # rows as the caller sees them (under vmap, each example's): the sums run on Y, not beneath
        ok = ((Y >= 0) & (Y <= 1)).all(1) & ((Y.sum(1) - 1).abs() <= tol)  # (m,), False at NaN
        if not values(ok).all():
            raise ValueError(
                "probability targets Y for the 'softmax' head must lie in [0, 1] with each row "
                "summing to 1 (one-hot or soft labels); pass class indices as an integer tensor"
            )


def target_range(Y: Tensor, head: Head) -> tuple[Tensor, Tensor] | None:
    """(min, max) of Y, two 0-d tensors, where two numbers tell whether Y's values are ones ``head`` takes
    (sigmoid targets, class indices: :func:`target_range_ok`); ``None`` where they do not (soft
    labels, to be read in full) or where a bad Y makes the cost J non-finite (identity). Y without
    autograd history or tangent (see :func:`~.values.check_values`)."""
    if head.name == "identity" or (head.name == "softmax" and Y.is_floating_point()):
        return None
    return torch.aminmax(Y)


def target_range_ok(lo: float, hi: float, n2: int, head: Head) -> bool:
    """Whether Y's (min, max) is in the head's range: [0, 1] (sigmoid), [0, n2) (class indices); False at NaN."""
    return 0 <= lo <= hi <= 1 if head.name == "sigmoid" else 0 <= lo <= hi < n2


def dense_target(Y: Tensor, n2: int, dtype: torch.dtype) -> Tensor:
    """Y as an (m, n2) tensor of ``dtype``: class indices become one-hot rows.

    Compared with ``arange``, not ``F.one_hot``, whose range check reads the data (``.item()``),
    which torch.func's transforms forbid: the range is checked once, at the boundary."""
    if not Y.is_floating_point():
        return (Y.unsqueeze(1) == torch.arange(n2, device=Y.device)).to(dtype)  # (m, n2)
    return Y
