r"""The note's equations, batch first, as plain tensor code.

The note writes examples as columns; here X is (m, n0), one example a row, and
the parameters have ``nn.Linear``'s shapes: W1 (n1, n0), b1 (n1,), W2 (n2, n1),
b2 (n2,). Transposing the note's equations gives, line for line, the forward
beside the backward (reverse mode):

.. math::

    Z^{[1]} &= X W^{[1]T} + b^{[1]}          &  dZ^{[2]} &= A^{[2]} - Y \\
    A^{[1]} &= g(Z^{[1]})                    &  dW^{[2]} &= \tfrac1m dZ^{[2]T} A^{[1]} \\
    Z^{[2]} &= A^{[1]} W^{[2]T} + b^{[2]}    &  db^{[2]} &= \tfrac1m \textstyle\sum_{rows} dZ^{[2]} \\
    A^{[2]} &= \sigma(Z^{[2]})               &  dZ^{[1]} &= dZ^{[2]} W^{[2]} \odot g'(Z^{[1]}) \\
            &                                &  dW^{[1]} &= \tfrac1m dZ^{[1]T} X \\
            &                                &  db^{[1]} &= \tfrac1m \textstyle\sum_{rows} dZ^{[1]}

and beside its forward mode: each forward equation differentiated along a
direction (dX, dW1, db1, dW2, db2, dY), the tangents that ``torch.func.jvp``
carries (here the d names a tangent, not a gradient):

.. math::

    dZ^{[1]} &= dX\, W^{[1]T} + X\, dW^{[1]T} + db^{[1]} \\
    dA^{[1]} &= g'(Z^{[1]}) \odot dZ^{[1]} \\
    dZ^{[2]} &= dA^{[1]} W^{[2]T} + A^{[1]} dW^{[2]T} + db^{[2]} \\
    dJ &= \tfrac1m \textstyle\sum (A^{[2]} - Y) \odot dZ^{[2]}
          + \tfrac1m \textstyle\sum \tfrac{\partial L}{\partial Y} \odot dY

(a tangent that is ``None`` has no term). :func:`backward` takes ``dZ2`` already
multiplied by the upstream gradient and by the note's 1/m (that is, ∂J/∂Z2, see
:func:`output_delta`), so the 1/m is applied once, to the smallest matrix, and the
same code serves any upstream loss. :func:`per_sample_backward` is the same chain
rule without the sum over the rows: one gradient per example.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .activations import Activation
from .heads import Head


class Gradients(NamedTuple):
    """Gradients in the argument order of the network; ``None`` where not asked for."""

    dX: Tensor | None
    dW1: Tensor | None
    db1: Tensor | None
    dW2: Tensor | None
    db2: Tensor | None


class PerSampleGradients(NamedTuple):
    """One gradient per example, keyed like the parameters, leading dimension m."""

    W1: Tensor  # (m, n1, n0)
    b1: Tensor  # (m, n1)
    W2: Tensor  # (m, n2, n1)
    b2: Tensor  # (m, n2)


# ---- forward ------------------------------------------------------------------


def hidden(X: Tensor, W1: Tensor, b1: Tensor, g: Activation) -> Tensor:
    """A1 = g(X W1ᵀ + b1), shape (m, n1)."""
    Z1 = F.linear(X, W1, b1)  # (m, n1): torch.addmm(b1, X, W1.t()), the transpose taken in C++
    return g.forward_(Z1)  # A1 overwrites Z1: g′ is computed from A1


def output(A1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """Z2 = A1 W2ᵀ + b2, shape (m, n2)."""
    return F.linear(A1, W2, b2)


# ---- reverse mode: the note's backward ---------------------------------------------


def output_delta(Z2: Tensor, Y: Tensor, head: Head, scale: Tensor | float, inplace: bool = False) -> Tensor:
    """dZ2 = (A2 − Y) · scale, shape (m, n2): the note's dZ[2] = A[2] − Y for every head.

    ``scale`` is dJ/m (the upstream gradient and the note's 1/m) for the batch's
    gradient, 1 for one gradient per example. Y is dense, (m, n2). ``inplace`` lets dZ2
    take A2's memory; only where nothing differentiates this code or batches it (under
    vmap, scale may be batched where A2 − Y is not).
    """
    A2 = head.link(Z2)  # (m, n2)
    if inplace and A2 is not Z2:  # A2 is new memory (the identity head's A2 is Z2 itself)
        return A2.sub_(Y).mul_(scale)
    return (A2 - Y) * scale


def backward(
    dZ2: Tensor,
    X: Tensor,
    A1: Tensor,
    W1: Tensor,
    W2: Tensor,
    g: Activation,
    needs: tuple[bool, bool, bool, bool, bool] = (False, True, True, True, True),
    inplace: bool = False,
) -> Gradients:
    """The six backward equations (and dX), from dZ2 = ∂J/∂Z2 of shape (m, n2).

    ``needs`` flags which of (dX, dW1, db1, dW2, db2) to compute; the others are
    ``None`` and cost nothing. ``inplace`` lets dZ1 overwrite dZ2 W2 (see :func:`output_delta`).
    """
    need_X, need_W1, need_b1, need_W2, need_b2 = needs
    dW2 = dZ2.t().mm(A1) if need_W2 else None  # (n2, n1)
    db2 = dZ2.sum(0) if need_b2 else None  # (n2,)
    if not (need_X or need_W1 or need_b1):
        return Gradients(None, None, None, dW2, db2)
    dA1 = dZ2.mm(W2)  # (m, n1)
    dZ1 = g.backward_(dA1, A1) if inplace else g.backward(dA1, A1)  # (m, n1)
    dW1 = dZ1.t().mm(X) if need_W1 else None  # (n1, n0)
    db1 = dZ1.sum(0) if need_b1 else None  # (n1,)
    dX = dZ1.mm(W1) if need_X else None  # (m, n0)
    return Gradients(dX, dW1, db1, dW2, db2)


def cost_backward(
    Z2: Tensor,
    Y: Tensor,
    X: Tensor,
    A1: Tensor,
    W1: Tensor,
    W2: Tensor,
    g: Activation,
    head: Head,
    scale: Tensor | float,
    needs: tuple[bool, bool, bool, bool, bool] = (False, True, True, True, True),
    inplace: bool = False,
) -> Gradients:
    """The gradients of the cost J: :func:`output_delta` then :func:`backward`.

    Z2 and Y (dense, (m, n2)) in the cost's dtype; dZ2 comes back to A1's dtype
    (they differ under autocast) before the six equations.
    """
    dZ2 = output_delta(Z2, Y, head, scale, inplace)  # (m, n2)
    if dZ2.dtype != A1.dtype:
        dZ2 = dZ2.to(A1.dtype)
    return backward(dZ2, X, A1, W1, W2, g, needs, inplace)


def per_sample_backward(dZ2: Tensor, X: Tensor, A1: Tensor, W2: Tensor, g: Activation) -> PerSampleGradients:
    """The note's backward without the sum over rows: example i's gradients, from its own dZ2_i.

    dW2_i = dZ2_i ⊗ A1_i, db2_i = dZ2_i, dZ1 = (dZ2 W2) ⊙ g′(Z1), dW1_i = dZ1_i ⊗ X_i, db1_i = dZ1_i:
    batched outer products, summing them over i gives :func:`backward`'s dW2, db2, dW1, db1.
    """
    dW2 = torch.einsum("ik,ij->ikj", dZ2, A1)  # (m, n2, n1)
    dZ1 = g.backward(dZ2.mm(W2), A1)  # (m, n1)
    dW1 = torch.einsum("ij,ik->ijk", dZ1, X)  # (m, n1, n0)
    return PerSampleGradients(dW1, dZ1, dW2, dZ2)


# ---- forward mode: tangents, pushed through the same equations ----------------------


def hidden_tangent(
    dX: Tensor | None, dW1: Tensor | None, db1: Tensor | None, X: Tensor, W1: Tensor, A1: Tensor, g: Activation
) -> Tensor | None:
    """dA1 = g′(Z1) ⊙ dZ1 with dZ1 = dX W1ᵀ + X dW1ᵀ + db1, shape (m, n1); ``None`` where no
    input tangent reaches the hidden layer (a ``None`` tangent's term is skipped)."""
    dZ1 = _sum(
        dX.mm(W1.t()) if dX is not None else None,  # (m, n1)
        X.mm(dW1.t()) if dW1 is not None else None,  # (m, n1)
        db1,  # (n1,), broadcast over the rows
    )
    if dZ1 is None:
        return None
    return g.backward(dZ1.expand_as(A1), A1)  # g′(Z1) ⊙ dZ1, g′ read from A1 as in backward


def output_tangent(dA1: Tensor | None, dW2: Tensor | None, db2: Tensor | None, A1: Tensor, W2: Tensor) -> Tensor | None:
    """dZ2 = dA1 W2ᵀ + A1 dW2ᵀ + db2, shape (m, n2); ``None`` where no tangent reaches it."""
    dZ2 = _sum(
        dA1.mm(W2.t()) if dA1 is not None else None,  # (m, n2)
        A1.mm(dW2.t()) if dW2 is not None else None,  # (m, n2)
        db2,  # (n2,), broadcast over the rows
    )
    return None if dZ2 is None else dZ2.expand(A1.shape[0], W2.shape[0])


def cost_tangent(dZ2: Tensor | None, dY: Tensor | None, Z2: Tensor, Y: Tensor, head: Head) -> Tensor:
    """dJ = (1/m) Σ (A2 − Y) ⊙ dZ2 + (1/m) Σ ∂L/∂Y ⊙ dY, a scalar (Z2, Y dense, the cost's dtype)."""
    m = Z2.shape[0]
    dJ = _sum(
        (output_delta(Z2, Y, head, 1 / m) * dZ2).sum() if dZ2 is not None else None,
        (head.target_grad(Z2, Y) * dY).sum() / m if dY is not None else None,
    )
    return dJ if dJ is not None else Z2.new_zeros(())


def _sum(*terms: Tensor | None) -> Tensor | None:
    """The sum of the terms that are not ``None``; ``None`` if all are."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total
