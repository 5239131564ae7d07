"""Targets Y: the form each head takes, checked once at the package's boundary, and made dense
(m, n2) for the equations. Every path to the Functions takes Y through here.

- sigmoid: values in [0, 1], (m, n2), or (m,) when n2 = 1; integer or bool 0/1 labels too;
- softmax: class indices (m,) in [0, n2), or probabilities (m, n2) whose rows sum to 1;
- identity: finite values, (m, n2), or (m,) when n2 = 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .heads import Head
from .validation import check_tensor, values


def check_target(Y: object, m: int, n2: int, head: Head, dtype: torch.dtype, check_values: bool = True) -> Tensor:
    """Y in the form ``head`` needs; returns it as (m, n2) floats, or (m,) class indices.

    - sigmoid: values in [0, 1], shape (m, n2), or (m,) when n2 = 1;
      integer or bool 0/1 labels are cast to X's dtype.
    - softmax: class indices (m,) in [0, n2), or probabilities (m, n2) whose rows sum to 1.
    - identity: shape (m, n2), or (m,) when n2 = 1.
    """
    Y = check_tensor("Y", Y)
    check_values = check_values and not torch.compiler.is_compiling()
    if Y.is_complex():
        raise TypeError(f"Y must be real, got dtype {Y.dtype}")
    if head.name == "softmax":
        return _check_softmax_target(Y, m, n2, dtype, check_values)
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
    if head.name == "identity" and check_values and not torch.isfinite(values(Y.detach())).all():
        raise ValueError("Y contains NaN or infinite values; drop those rows or impute the target first")
    if head.name == "sigmoid" and check_values:
        lo, hi = (v.item() for v in torch.aminmax(values(Y.detach())))
        if not 0 <= lo <= hi <= 1:  # also catches NaN
            raise ValueError(
                "Y for the 'sigmoid' head must lie in [0, 1] (binary or multi-label targets); "
                f"got values from {lo:g} to {hi:g}. "
                "For regression use output='identity'; for classes use output='softmax'"
            )
    return Y


def _check_softmax_target(Y: Tensor, m: int, n2: int, dtype: torch.dtype, check_values: bool) -> Tensor:
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
        lo, hi = (v.item() for v in torch.aminmax(values(Y))) if check_values else (0, 0)
        if not 0 <= lo <= hi < n2:
            raise ValueError(
                f"class indices Y must lie in [0, {n2 - 1}] for n2 = {n2} classes; got values from {lo} to {hi}"
            )
        return Y.long()
    if Y.dtype != dtype:
        raise TypeError(f"Y has dtype {Y.dtype} but X has dtype {dtype}; use Y.to(X.dtype)")
    if tuple(Y.shape) != (m, n2):
        raise ValueError(
            f"probability targets Y for the 'softmax' head must have shape (m, n2) = "
            f"({m}, {n2}); got {tuple(Y.shape)}. Class indices have shape (m,) and an integer dtype"
        )
    if check_values:
        tol = 1e-4 if dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-8
        Y_ = Y.detach()
        ok = ((Y_ >= 0) & (Y_ <= 1)).all(1) & ((Y_.sum(1) - 1).abs() <= tol)  # (m,), False at NaN
        if not values(ok).all():
            raise ValueError(
                "probability targets Y for the 'softmax' head must lie in [0, 1] with each row "
                "summing to 1 (one-hot or soft labels); pass class indices as an integer tensor"
            )
    return Y


def checked_target(Y: Tensor) -> Tensor:
    """Y from data that was checked when it was loaded (the data module checks every value of a
    file): only the (m,) → (m, 1) view a one-output head takes, no reading of values."""
    return Y.unsqueeze(1) if Y.dim() == 1 and Y.is_floating_point() else Y


def dense_target(Y: Tensor, n2: int, dtype: torch.dtype) -> Tensor:
    """Y as an (m, n2) tensor of ``dtype``: class indices become one-hot rows.

    Compared with ``arange``, not ``F.one_hot``, whose range check reads the data (``.item()``),
    which torch.func's transforms forbid: the range is checked once, at the boundary."""
    if not Y.is_floating_point():
        return (Y.unsqueeze(1) == torch.arange(n2, device=Y.device)).to(dtype)  # (m, n2)
    return Y
