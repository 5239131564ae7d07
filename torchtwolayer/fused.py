""":func:`forward_backward`: the gradients of J for any batch through :mod:`~torchtwolayer.equations`,
without autograd (the Lightning module's fast path)."""

from __future__ import annotations

import torch
from torch import Tensor

from . import equations
from .activations import get_activation
from .equations import Gradients
from .gradient_descent import prepare_target
from .heads import get_head
from .module import TwoLayerNet

__all__ = ["forward_backward", "prepare_target"]


def forward_backward(
    net: TwoLayerNet, X: Tensor, Y: Tensor, cost: bool = True
) -> tuple[Tensor | None, Tensor, Gradients]:
    """``(J, Z2, grads)`` without autograd: the gradients of J = (1/m) Σ L, and the logits.

    Y must already be dense, (m, n2) of X's dtype (see :func:`prepare_target`).
    """
    g, head = get_activation(net.activation), get_head(net.output)
    m = X.shape[0]
    with torch.no_grad():
        A1 = equations.hidden(X, net.W1, net.b1, g)  # (m, n1)
        Z2 = equations.output(A1, net.W2, net.b2)  # (m, n2)
        J = head.cost(Z2, Y) if cost else None
        dZ2 = head.link(Z2) - Y  # (m, n2)  the note's dZ[2] = A[2] − Y
        return J, Z2, equations.backward(dZ2.mul_(1 / m), X, A1, net.W1, net.W2, g)
