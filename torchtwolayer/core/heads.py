"""Output heads: the link A2 = g[2](Z2) and the summed loss Σ L(A2, Y).

Each head pairs a link with the loss whose gradient with respect to Z2 is
exactly A2 − Y, which is why one backward pass serves them all:

========  ===============  =========================================  ===========
head      A2               L (per example)                            task
========  ===============  =========================================  ===========
sigmoid   σ(Z2)            −Σ_k [Y log A2 + (1 − Y) log(1 − A2)]      binary, multi-label
softmax   softmax(Z2)      −Σ_k Y log A2                              multi-class
identity  Z2               ½ ‖A2 − Y‖²                                regression
========  ===============  =========================================  ===========

Losses are evaluated from the logits Z2 in their stable forms (softplus,
log-softmax), so logits of ±1e4 give finite costs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from . import compat


@dataclass(frozen=True)
class Head:
    """``link(Z2)`` is A2 (``link_out(Z2, out)`` writes it into ``out``);
    ``cost(Z2, Y)`` is J = (1/m) Σ L over the m examples, Y dense (m, n2);
    ``losses(Z2, Y)`` is each example's L, shape (m,), for weighted costs;
    ``target_grad(Z2, Y)`` is ∂ Σ L / ∂Y (used only when Y requires grad)."""

    name: str
    link: Callable[[Tensor], Tensor]
    link_out: Callable[[Tensor, Tensor], Tensor]
    cost: Callable[[Tensor, Tensor], Tensor]
    losses: Callable[[Tensor, Tensor], Tensor]
    target_grad: Callable[[Tensor, Tensor], Tensor]


def _softmax(Z2: Tensor) -> Tensor:
    return torch.softmax(Z2, dim=1)


def _identity(Z2: Tensor) -> Tensor:
    return Z2


# Each cost is one ATen call with mean reduction (over m·n2 numbers), rescaled to the
# note's mean over the m examples of a loss summed over the n2 outputs.
def _bce_cost(Z2: Tensor, Y: Tensor) -> Tensor:
    J = compat.bce_with_logits_mean(Z2, Y)  # softplus(Z2) − Y Z2, stable
    return J if Z2.shape[1] == 1 else J * Z2.shape[1]


def _cross_entropy_cost(Z2: Tensor, Y: Tensor) -> Tensor:
    return F.cross_entropy(Z2, Y)  # −(1/m) Σ Y log softmax(Z2), through log-sum-exp


def _half_squared_error_cost(Z2: Tensor, Y: Tensor) -> Tensor:
    return F.mse_loss(Z2, Y) * (0.5 * Z2.shape[1])


# Each example's L, summed over its n2 outputs, in the same stable forms.
def _bce_losses(Z2: Tensor, Y: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(Z2, Y, reduction="none").sum(1)


def _cross_entropy_losses(Z2: Tensor, Y: Tensor) -> Tensor:
    return -(Y * torch.log_softmax(Z2, dim=1)).sum(1)


def _half_squared_error_losses(Z2: Tensor, Y: Tensor) -> Tensor:
    return 0.5 * (Z2 - Y).square().sum(1)


HEADS: dict[str, Head] = {
    h.name: h
    for h in (
        Head(
            "sigmoid",
            torch.sigmoid,
            lambda Z2, out: torch.sigmoid(Z2, out=out),
            _bce_cost,
            _bce_losses,
            lambda Z2, Y: -Z2,
        ),
        Head(
            "softmax",
            _softmax,
            lambda Z2, out: out.copy_(torch.softmax(Z2, dim=1)),  # aten's _softmax.out needs a contiguous out
            _cross_entropy_cost,
            _cross_entropy_losses,
            lambda Z2, Y: -torch.log_softmax(Z2, dim=1),
        ),
        Head(
            "identity",
            _identity,
            lambda Z2, out: out.copy_(Z2),
            _half_squared_error_cost,
            _half_squared_error_losses,
            lambda Z2, Y: Y - Z2,
        ),
    )
}
HeadName = Literal[tuple(HEADS)]


def get_head(name: str) -> Head:
    """The head called ``name``; a ``ValueError`` listing the choices otherwise."""
    if not isinstance(name, str) or name not in HEADS:
        raise ValueError(f"unknown output head {name!r}: expected one of {sorted(HEADS)}")
    return HEADS[name]
