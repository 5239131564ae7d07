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
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from . import compat

LEAKY_RELU_SLOPE = 0.01  # PyTorch's default negative_slope

aten = torch.ops.aten


@dataclass(frozen=True)
class Activation:
    """A hidden activation g: everything the package knows of it, in one place.

    ``forward_(Z1)`` returns A1 = g(Z1) and may overwrite Z1. ``backward(dA1, A1)``
    returns dA1 ⊙ g′(Z1) through ATen's fused kernel ``backward_op`` (identity: dA1);
    ``backward_(dA1, A1)`` writes it over dA1 (for backward passes nothing records): one kernel
    through the op's out-variant where this torch has it, else ``derivative_``, the same product
    in plain in-place arithmetic.
    ``reference`` is g in ``torch.nn.functional``, left to autograd (the independent check);
    ``gain`` names it for ``nn.init.calculate_gain`` (Xavier and Kaiming initialisations).
    """

    name: str
    forward_: Callable[[Tensor], Tensor]
    reference: Callable[[Tensor], Tensor]
    gain: str
    backward_op: Callable[..., Tensor] | None = None
    backward_args: tuple = ()
    derivative_: Callable[[Tensor, Tensor], Tensor] | None = None

    def backward(self, dA1: Tensor, A1: Tensor) -> Tensor:
        if self.backward_op is None:
            return dA1
        return self.backward_op(dA1, A1, *self.backward_args)

    def backward_(self, dA1: Tensor, A1: Tensor) -> Tensor:
        if self.backward_op is None:
            return dA1
        fused = compat.out_overload(self.backward_op, "grad_input")
        if fused is None:
            return self.derivative_(dA1, A1)
        fused(dA1, A1, *self.backward_args, grad_input=dA1)
        return dA1


# dA1 ⊙ g′(Z1) written over dA1, from A1 = g(Z1), in plain arithmetic.
def _tanh_derivative_(dA1: Tensor, A1: Tensor) -> Tensor:
    return dA1.addcmul_(dA1 * A1, A1, value=-1)  # dA1 (1 − A1²)


def _sigmoid_derivative_(dA1: Tensor, A1: Tensor) -> Tensor:
    t = dA1 * A1
    return torch.addcmul(t, t, A1, value=-1, out=dA1)  # dA1 A1 (1 − A1)


def _relu_derivative_(dA1: Tensor, A1: Tensor) -> Tensor:
    return dA1.masked_fill_(A1 <= 0, 0)  # dA1 [A1 > 0]


def _leaky_relu_derivative_(dA1: Tensor, A1: Tensor) -> Tensor:
    return dA1.copy_(torch.where(A1 > 0, dA1, dA1 * LEAKY_RELU_SLOPE))


def _identity(Z1: Tensor) -> Tensor:
    return Z1


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", torch.tanh_, F.tanh, "tanh", aten.tanh_backward, (), _tanh_derivative_),  # g′ = 1 − A1²
        Activation(
            "sigmoid", torch.sigmoid_, F.sigmoid, "sigmoid", aten.sigmoid_backward, (), _sigmoid_derivative_
        ),  # g′ = A1 (1 − A1)
        Activation(
            "relu", torch.relu_, F.relu, "relu", aten.threshold_backward, (0,), _relu_derivative_
        ),  # g′ = [A1 > 0]
        Activation(
            "leaky_relu",
            lambda Z1: F.leaky_relu_(Z1, LEAKY_RELU_SLOPE),
            lambda Z1: F.leaky_relu(Z1, LEAKY_RELU_SLOPE),
            "leaky_relu",
            aten.leaky_relu_backward,  # g′ = 1 if A1 > 0 else the slope
            (LEAKY_RELU_SLOPE, True),  # True: the second argument is the output A1
            _leaky_relu_derivative_,
        ),
        Activation("identity", _identity, _identity, "linear"),  # g′ = 1
    )
}
ActivationName = Literal[tuple(ACTIVATIONS)]  # the names, for type hints and the command line's choices


def get_activation(name: str) -> Activation:
    """The activation called ``name``; a ``ValueError`` listing the choices otherwise."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
