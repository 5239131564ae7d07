"""Parameter initialisations: the course's, Xavier/Glorot, Kaiming and PyTorch's default."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from .activations import ACTIVATIONS, LEAKY_RELU_SLOPE

INITS = ("course", "xavier", "kaiming", "pytorch")
InitName = Literal[INITS]  # the names, for type hints and the command line's choices


def check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: expected one of {list(INITS)}")
    return init


@torch.no_grad()
def init_layer(
    W: Tensor,
    b: Tensor,
    init: str,
    activation: str,
    generator: torch.Generator | None = None,
) -> None:
    """Fill one layer's ``W`` and ``b`` in place.

    - ``course``: W ~ N(0, 0.01²), b = 0 (the course's ``np.random.randn(...) * 0.01``)
    - ``xavier``: Glorot uniform with the gain of ``activation``, b = 0
    - ``kaiming``: He uniform (fan_in) for ``activation``, b = 0
    - ``pytorch``: ``nn.Linear``'s default, W and b ~ U(−1/√n_in, 1/√n_in)
    """
    check_init(init)
    nonlinearity = ACTIVATIONS[activation].gain
    if init == "course":
        W.normal_(0.0, 0.01, generator=generator)
    elif init == "xavier":
        nn.init.xavier_uniform_(W, gain=nn.init.calculate_gain(nonlinearity), generator=generator)
    elif init == "kaiming":
        slope = LEAKY_RELU_SLOPE if activation == "leaky_relu" else 0.0
        nn.init.kaiming_uniform_(W, a=slope, nonlinearity=nonlinearity, generator=generator)
    if init == "pytorch":
        bound = 1 / math.sqrt(W.shape[1])
        W.uniform_(-bound, bound, generator=generator)
        b.uniform_(-bound, bound, generator=generator)
    else:
        b.zero_()
