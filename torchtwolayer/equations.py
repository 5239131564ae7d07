r"""The note's equations, batch first, as plain tensor code.

The note writes examples as columns; here X is (m, n0), one example a row, and
the parameters have ``nn.Linear``'s shapes: W1 (n1, n0), b1 (n1,), W2 (n2, n1),
b2 (n2,). Transposing the note's equations gives, line for line:

.. math::

    Z^{[1]} &= X W^{[1]T} + b^{[1]}          &  dZ^{[2]} &= A^{[2]} - Y \\
    A^{[1]} &= g(Z^{[1]})                    &  dW^{[2]} &= \tfrac1m dZ^{[2]T} A^{[1]} \\
    Z^{[2]} &= A^{[1]} W^{[2]T} + b^{[2]}    &  db^{[2]} &= \tfrac1m \textstyle\sum_{rows} dZ^{[2]} \\
    A^{[2]} &= \sigma(Z^{[2]})               &  dZ^{[1]} &= dZ^{[2]} W^{[2]} \odot g'(Z^{[1]}) \\
            &                                &  dW^{[1]} &= \tfrac1m dZ^{[1]T} X \\
            &                                &  db^{[1]} &= \tfrac1m \textstyle\sum_{rows} dZ^{[1]}

:func:`backward` takes ``dZ2`` already multiplied by the upstream gradient and
by the note's 1/m (that is, ∂J/∂Z2), so the 1/m is applied once, to the
smallest matrix, and the same code serves any upstream loss.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .activations import Activation


class Gradients(NamedTuple):
    """Gradients in the argument order of the network; ``None`` where not asked for."""

    dX: Tensor | None
    dW1: Tensor | None
    db1: Tensor | None
    dW2: Tensor | None
    db2: Tensor | None


def hidden(X: Tensor, W1: Tensor, b1: Tensor, g: Activation) -> Tensor:
    """A1 = g(X W1ᵀ + b1), shape (m, n1)."""
    Z1 = torch.addmm(b1, X, W1.t())  # (m, n1)
    return g.forward_(Z1)  # A1 overwrites Z1: g′ is computed from A1


def output(A1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """Z2 = A1 W2ᵀ + b2, shape (m, n2)."""
    return torch.addmm(b2, A1, W2.t())


def backward(
    dZ2: Tensor,
    X: Tensor,
    A1: Tensor,
    W1: Tensor,
    W2: Tensor,
    g: Activation,
    needs: tuple[bool, bool, bool, bool, bool] = (False, True, True, True, True),
) -> Gradients:
    """The six backward equations (and dX), from dZ2 = ∂J/∂Z2 of shape (m, n2).

    ``needs`` flags which of (dX, dW1, db1, dW2, db2) to compute; the others are
    ``None`` and cost nothing.
    """
    need_X, need_W1, need_b1, need_W2, need_b2 = needs
    dW2 = dZ2.t().mm(A1) if need_W2 else None  # (n2, n1)
    db2 = dZ2.sum(0) if need_b2 else None  # (n2,)
    if not (need_X or need_W1 or need_b1):
        return Gradients(None, None, None, dW2, db2)
    dZ1 = g.backward(dZ2.mm(W2), A1)  # (m, n1)
    dW1 = dZ1.t().mm(X) if need_W1 else None  # (n1, n0)
    db1 = dZ1.sum(0) if need_b1 else None  # (n1,)
    dX = dZ1.mm(W1) if need_X else None  # (m, n0)
    return Gradients(dX, dW1, db1, dW2, db2)
