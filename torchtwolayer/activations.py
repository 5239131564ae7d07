"""Hidden-layer activations g and their derivatives g′.

Every g′ is computed from the saved output A1 = g(Z1), never from Z1, so the
forward pass keeps one (m, n1) tensor for backward, as the course does
(tanh′ = 1 − A1², σ′ = A1(1 − A1), relu′ = [A1 > 0], ...). The backward rules
call ATen's fused ``*_backward`` kernels, which are themselves differentiable,
so second derivatives come for free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

LEAKY_RELU_SLOPE = 0.01  # PyTorch's default negative_slope

aten = torch.ops.aten


@dataclass(frozen=True)
class Activation:
    """A hidden activation: ``forward_(Z1)`` returns A1 and may overwrite Z1;
    ``backward(dA1, A1)`` returns dA1 ⊙ g′(Z1)."""

    name: str
    forward_: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor], Tensor]
    derivative: str  # g′ written with A1, for docs and the README


def _identity(Z1: Tensor) -> Tensor:
    return Z1


def _identity_backward(dA1: Tensor, A1: Tensor) -> Tensor:
    return dA1


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", torch.tanh_, aten.tanh_backward, "1 − A1²"),
        Activation("sigmoid", torch.sigmoid_, aten.sigmoid_backward, "A1 (1 − A1)"),
        Activation(
            "relu",
            torch.relu_,
            lambda dA1, A1: aten.threshold_backward(dA1, A1, 0),
            "1 if A1 > 0 else 0",
        ),
        Activation(
            "leaky_relu",
            lambda Z1: torch.nn.functional.leaky_relu_(Z1, LEAKY_RELU_SLOPE),
            lambda dA1, A1: aten.leaky_relu_backward(dA1, A1, LEAKY_RELU_SLOPE, True),
            f"1 if A1 > 0 else {LEAKY_RELU_SLOPE}",
        ),
        Activation("identity", _identity, _identity_backward, "1"),
    )
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; a ``ValueError`` listing the choices otherwise."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
