"""``TwoLayerNet``: the note's network as an ``nn.Module`` over the hand-written Functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from . import compat
from .activations import get_activation
from .function import cost_and_logits, logits
from .heads import HEADS, get_head
from .initializers import check_init, init_layer
from .targets import check_target
from .validation import check_allocation, check_input, positive_int
from .values import check_all_values

PARAMETERS = ("W1", "b1", "W2", "b2")  # their names, in the Functions' argument order


class TwoLayerNet(nn.Module):
    r"""A neural network with one hidden layer, trained through the note's hand-written backward.

    .. math::

        Z^{[1]} = X W^{[1]T} + b^{[1]}, \quad A^{[1]} = g(Z^{[1]}), \quad
        Z^{[2]} = A^{[1]} W^{[2]T} + b^{[2]}, \quad A^{[2]} = \text{head}(Z^{[2]})

    ``forward`` returns the logits Z2, so the module drops into any PyTorch
    training code with any loss; :meth:`cost` returns the head's cost J through
    the fused Function whose backward starts from dZ2 = A2 − Y. Both work under
    ``torch.func.functional_call`` and every torch.func transform (per-sample
    gradients in closed form: :func:`~torchtwolayer.per_sample.per_sample_grads`).

    Args:
        n0: inputs, the note's n[0] (n_x): features per example.
        n1: hidden units, the note's n[1].
        n2: outputs, the note's n[2]: 1 for binary or one regression target; the number of
            classes for ``softmax``; one per label for multi-label.
        activation: hidden activation g: ``tanh``, ``sigmoid``, ``relu``, ``leaky_relu``, ``identity``.
        output: head: ``sigmoid`` (binary, multi-label), ``softmax`` (multi-class),
            ``identity`` (regression).
        init: ``course`` (N(0, 0.01²) weights, zero biases), ``xavier``, ``kaiming`` or
            ``pytorch`` (``nn.Linear``'s default).
        generator: a ``torch.Generator`` that makes the initialisation reproducible.
        seed: shorthand for a generator seeded with ``seed``.
        device, dtype: where and in which floating dtype the parameters live.

    Shape:
        - Input X: (m, n0)
        - Output Z2: (m, n2)

    Attributes:
        W1: hidden weights, (n1, n0).  b1: hidden biases, (n1,).
        W2: output weights, (n2, n1).  b2: output biases, (n2,).

    Example:
        >>> import torch
        >>> from torchtwolayer import TwoLayerNet
        >>> net = TwoLayerNet(2, 4, seed=0)
        >>> net
        TwoLayerNet(n0=2, n1=4, n2=1, activation='tanh', output='sigmoid', init='xavier')
        >>> net(torch.zeros(3, 2)).shape
        torch.Size([3, 1])
    """

    def __init__(
        self,
        n0: int,
        n1: int,
        n2: int = 1,
        activation: str = "tanh",
        output: str = "sigmoid",
        init: str = "xavier",
        generator: torch.Generator | None = None,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.n0, self.n1, self.n2 = positive_int("n0", n0), positive_int("n1", n1), positive_int("n2", n2)
        self.activation = get_activation(activation).name
        self.output = get_head(output).name
        if self.output == "softmax" and self.n2 < 2:
            raise ValueError(
                "output='softmax' needs n2 >= 2 (one output per class); for two classes use output='sigmoid' with n2=1"
            )
        self.init = check_init(init)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        itemsize = torch.empty((), dtype=dtype).element_size()
        n_parameters = self.n1 * (self.n0 + 1) + self.n2 * (self.n1 + 1)
        check_allocation(f"TwoLayerNet(n0={n0}, n1={n1}, n2={n2})", n_parameters * itemsize, device)
        self.W1 = nn.Parameter(torch.empty(self.n1, self.n0, **factory))
        self.b1 = nn.Parameter(torch.empty(self.n1, **factory))
        self.W2 = nn.Parameter(torch.empty(self.n2, self.n1, **factory))
        self.b2 = nn.Parameter(torch.empty(self.n2, **factory))
        if generator is None and seed is not None:
            generator = torch.Generator(device=self.W1.device).manual_seed(seed)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise W1, b1, W2, b2 with ``self.init``; zero biases except for ``pytorch``."""
        init_layer(self.W1, self.b1, self.init, self.activation, generator)
        init_layer(self.W2, self.b2, self.init, "identity", generator)

    def forward(self, X: Tensor) -> Tensor:
        """The logits Z2, shape (m, n2). A NaN or inf in X is a ``ValueError``, found after the fact
        (see :mod:`~torchtwolayer.core.values`)."""
        W1, b1, W2, b2 = compat.parameters_named(self, PARAMETERS)
        X = self._as_input(X, W1)
        return logits(X, W1, b1, W2, b2, self.activation)

    def cost(self, X: Tensor, Y: Tensor) -> Tensor:
        """J = (1/m) Σ L(A2, Y) through the fused Function (see :func:`two_layer_cost`).

        A bad value of X or Y is a ``ValueError`` naming it, found after the fact: one host read of
        J, X's sum and Y's range per call (see :mod:`~torchtwolayer.core.values`)."""
        return self.cost_and_logits(X, Y)[0]

    def cost_and_logits(self, X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
        """J and the logits Z2 computed on the way (not differentiable): one forward for loss and metrics."""
        W1, b1, W2, b2 = compat.parameters_named(self, PARAMETERS)
        X = self._as_input(X, W1)
        Y = self._as_target(Y, X)
        return cost_and_logits(X, Y, W1, b1, W2, b2, self.activation, HEADS[self.output])

    @torch.no_grad()
    def predict_proba(self, X: Tensor | np.ndarray) -> Tensor:
        """A2 = head(Z2): probabilities for sigmoid/softmax heads, values for identity. (m, n2)."""
        return HEADS[self.output].link(self(X))

    @torch.no_grad()
    def predict(self, X: Tensor | np.ndarray) -> Tensor:
        """Labels or values.

        sigmoid: 0/1 labels (A2 > 0.5), shape (m,) when n2 = 1, else (m, n2);
        softmax: class indices (m,); identity: values, (m,) when n2 = 1, else (m, n2).
        """
        Z2 = self(X)
        if self.output == "softmax":
            return Z2.argmax(1)
        Y_hat = (Z2 > 0).long() if self.output == "sigmoid" else Z2  # σ(Z2) > 0.5 ⇔ Z2 > 0
        return Y_hat.squeeze(1) if self.n2 == 1 else Y_hat

    def _as_target(self, Y: Tensor, X: Tensor) -> Tensor:
        """Y in the head's form (shape and dtype; its values are read after the fact)."""
        return check_target(Y, X.shape[0], self.n2, HEADS[self.output], X.dtype)

    def _as_input(self, X: Tensor | np.ndarray, W1: Tensor | None = None) -> Tensor:
        """Arrays become tensors of the parameters' dtype and device; tensors are checked: rank,
        features, dtype, device (their values are read after the fact). ``W1``: ``self.W1``, if the
        caller has it at hand."""
        W1 = self.W1 if W1 is None else W1
        if not isinstance(X, Tensor):
            X = torch.as_tensor(np.asarray(X), dtype=W1.dtype, device=W1.device)
        X = check_input(X, self.n0)
        if X.dtype != W1.dtype or X.device != W1.device:
            raise TypeError(
                f"X is {X.dtype} on {X.device} but the network's parameters are {W1.dtype} on "
                f"{W1.device}; use X.to(net.W1) or net.to(X)"
            )
        return X

    def _checked_data(self, X: Tensor | np.ndarray, Y: Tensor) -> tuple[Tensor, Tensor]:
        """X and Y checked in full, every value read now: for trainers that check their data once."""
        X = self._as_input(X)
        Y = self._as_target(Y, X)
        check_all_values(X, Y, HEADS[self.output], self.n2)
        return X, Y

    def extra_repr(self) -> str:
        return (
            f"n0={self.n0}, n1={self.n1}, n2={self.n2}, activation={self.activation!r}, "
            f"output={self.output!r}, init={self.init!r}"
        )
