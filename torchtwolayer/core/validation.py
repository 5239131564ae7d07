"""Checks at the package's boundary: a clear ``TypeError``/``ValueError`` that says
what was expected and what was given, before torch fails somewhere deep inside.

Shape and dtype checks cost nothing. Value checks (label range, targets in
[0, 1], NaN) read the data once; they are skipped while ``torch.compile`` traces.
Under torch.func transforms (``vmap``, ``grad``, ``jvp``, …) a tensor is a wrapper
whose values cannot be read (``.item()``, ``bool``): :func:`values` gives the data
under the wrappers, and the checks read that, outside the transform, all of it.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch._C._functorch import get_unwrapped, is_functorch_wrapped_tensor

from .heads import Head


def _is_compiling() -> bool:
    return torch.compiler.is_compiling()


def values(t: Tensor) -> Tensor:
    """The plain tensor under ``t``'s torch.func wrappers, ``t`` itself outside transforms.

    Under ``vmap`` it holds every batch's values (in some layout: read it elementwise
    or through global reductions only); under ``grad``/``jvp`` the primal values.
    A value check reads it with ``.item()`` or ``bool`` where the wrapper forbids both.
    """
    while is_functorch_wrapped_tensor(t):
        t = get_unwrapped(t)
    return t


def check_tensor(name: str, t: object) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(t).__name__}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
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


def check_target(Y: object, m: int, n2: int, head: Head, dtype: torch.dtype, check_values: bool = True) -> Tensor:
    """Y in the form ``head`` needs; returns it as (m, n2) floats, or (m,) class indices.

    - sigmoid: values in [0, 1], shape (m, n2), or (m,) when n2 = 1;
      integer or bool 0/1 labels are cast to X's dtype.
    - softmax: class indices (m,) in [0, n2), or probabilities (m, n2) whose rows sum to 1.
    - identity: shape (m, n2), or (m,) when n2 = 1.
    """
    Y = check_tensor("Y", Y)
    check_values = check_values and not _is_compiling()
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
