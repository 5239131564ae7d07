"""The same network and costs written with ``torch.nn.functional`` and left to
autograd: the independent reference that the hand-written backward is checked against."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .activations import ACTIVATIONS


def reference_logits(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: str = "tanh") -> Tensor:
    """Z2 through ``F.linear`` and autograd."""
    return F.linear(ACTIVATIONS[activation].reference(F.linear(X, W1, b1)), W2, b2)


def reference_cost(
    X: Tensor,
    Y: Tensor,
    W1: Tensor,
    b1: Tensor,
    W2: Tensor,
    b2: Tensor,
    activation: str = "tanh",
    output: str = "sigmoid",
) -> Tensor:
    """J through ``nn.functional`` losses and autograd (Y as :func:`two_layer_cost` takes it)."""
    Z2 = reference_logits(X, W1, b1, W2, b2, activation)
    m = X.shape[0]
    if output == "sigmoid":
        return F.binary_cross_entropy_with_logits(Z2, Y.reshape(Z2.shape).to(Z2.dtype), reduction="sum") / m
    if output == "softmax":
        return F.cross_entropy(Z2, Y)
    return 0.5 * F.mse_loss(Z2, Y.reshape(Z2.shape), reduction="sum") / m
