r"""The network as ``torch.autograd.Function``\ s with the note's backward, by hand.

Two Functions share :mod:`torchtwolayer.equations`:

- :func:`two_layer` returns the logits Z2 and composes with any loss downstream;
  its backward receives ∂J/∂Z2 from autograd.
- :func:`two_layer_cost` fuses the network with the head's cost J; its backward
  starts literally from the note's dZ2 = A2 − Y.

First-order backward reuses A1 saved by forward. When autograd records the
backward itself (``create_graph=True``: Hessian-vector products,
``gradgradcheck``), A1 is rebuilt from the saved inputs so that second
derivatives flow through it; the equations that follow are the same code.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor
from torch.autograd import Function

from . import equations
from .activations import get_activation
from .heads import as_dense_target, get_head
from .validation import check_parameters, check_target


def _autocast_dtype(X: Tensor) -> torch.dtype | None:
    """The lower precision autocast runs X's device in, or ``None`` when autocast is off there."""
    device = X.device.type
    if not torch.is_autocast_enabled(device):
        return None
    dtype = torch.get_autocast_dtype(device)
    return dtype if dtype != X.dtype else None


def _cast(dtype: torch.dtype | None, *tensors: Tensor) -> tuple[Tensor, ...]:
    """Under autocast, the network runs in its dtype: inputs and parameters cast once, up front,
    so forward and backward see one consistent dtype (as autocast's own ``addmm`` would)."""
    return tensors if dtype is None else tuple(t.to(dtype) for t in tensors)


def _autocast_off(device: str) -> contextlib.AbstractContextManager:
    """Backward computes in the dtypes forward saved, even if called inside an autocast region."""
    return torch.autocast(device, enabled=False) if torch.is_autocast_enabled(device) else _NO_CONTEXT


_NO_CONTEXT = contextlib.nullcontext()


class TwoLayer(Function):
    """Z2 = g(X W1ᵀ + b1) W2ᵀ + b2 with a hand-written backward."""

    @staticmethod
    def forward(ctx, X, W1, b1, W2, b2, activation: str):
        g = get_activation(activation)
        X, W1, b1, W2, b2 = _cast(_autocast_dtype(X), X, W1, b1, W2, b2)
        A1 = equations.hidden(X, W1, b1, g)  # (m, n1)
        Z2 = equations.output(A1, W2, b2)  # (m, n2)
        ctx.g, ctx.device = g, X.device.type
        ctx.save_for_backward(X, W1, b1, W2, A1)
        return Z2

    @staticmethod
    def backward(ctx, dZ2):
        X, W1, b1, W2, A1 = ctx.saved_tensors
        g = ctx.g
        with _autocast_off(ctx.device):
            if torch.is_grad_enabled():  # create_graph: make A1 a function of the inputs
                A1 = equations.hidden(X, W1, b1, g)
            grads = equations.backward(dZ2.to(A1.dtype), X, A1, W1, W2, g, ctx.needs_input_grad[:5])
        return (*grads, None)


class TwoLayerCost(Function):
    """J = (1/m) Σ L(A2, Y) of the network, with the note's backward from dZ2 = A2 − Y.

    Returns J, or ``(J, Z2)`` with ``with_logits``: Z2 is then a non-differentiable
    by-product for metrics, at no extra cost.
    """

    @staticmethod
    def forward(ctx, X, Y, W1, b1, W2, b2, activation: str, output: str, with_logits: bool = False):
        g, head = get_activation(activation), get_head(output)
        cost_dtype = X.dtype  # under autocast the cost stays in X's precision (float32)
        X, W1, b1, W2, b2 = _cast(_autocast_dtype(X), X, W1, b1, W2, b2)
        A1 = equations.hidden(X, W1, b1, g)  # (m, n1)
        Z2 = equations.output(A1, W2, b2)  # (m, n2)
        Zc = Z2 if Z2.dtype == cost_dtype else Z2.to(cost_dtype)
        J = head.cost(Zc, as_dense_target(Y, W2.shape[0], cost_dtype))  # ()
        ctx.g, ctx.head, ctx.cost_dtype, ctx.device = g, head, cost_dtype, X.device.type
        needs = ctx.needs_input_grad
        ctx.needs_equations = (needs[0], needs[2], needs[3], needs[4], needs[5])  # dX, dW1, db1, dW2, db2
        ctx.save_for_backward(X, Y, W1, b1, W2, b2, A1, Z2)
        if not with_logits:
            return J
        ctx.mark_non_differentiable(Z2)
        ctx.set_materialize_grads(False)  # no zeros tensor for Z2's (absent) gradient
        return J, Z2

    @staticmethod
    def backward(ctx, dJ, _dZ2=None):
        if dJ is None:  # only the (non-differentiable) Z2 was used
            return (None,) * 9
        X, Y, W1, b1, W2, b2, A1, Z2 = ctx.saved_tensors
        g, head = ctx.g, ctx.head
        m, n2 = X.shape[0], W2.shape[0]
        create_graph = torch.is_grad_enabled()
        with _autocast_off(ctx.device):
            if create_graph:  # make A1, Z2 functions of the inputs
                A1 = equations.hidden(X, W1, b1, g)
                Z2 = equations.output(A1, W2, b2)
            if Z2.dtype != ctx.cost_dtype:  # autocast: the cost's precision
                Z2 = Z2.to(ctx.cost_dtype)
            Y = as_dense_target(Y, n2, Z2.dtype)  # (m, n2)
            A2 = head.link(Z2)  # (m, n2)
            dZ2 = A2 - Y  # (m, n2)  the note's dZ[2] = A[2] − Y
            scale = dJ / m  # the note's 1/m, and the upstream gradient, applied once
            dZ2 = dZ2 * scale if create_graph else dZ2.mul_(scale)
            if dZ2.dtype != A1.dtype:  # autocast: back to the network's precision
                dZ2 = dZ2.to(A1.dtype)
            dX, dW1, db1, dW2, db2 = equations.backward(dZ2, X, A1, W1, W2, g, ctx.needs_equations)
            dY = head.target_grad(Z2, Y) * scale if ctx.needs_input_grad[1] else None
        return dX, dY, dW1, db1, dW2, db2, None, None, None


def two_layer(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: str = "tanh") -> Tensor:
    r"""The logits of the one-hidden-layer network, with a hand-written backward.

    .. math::

        Z^{[2]} = g(X W^{[1]T} + b^{[1]})\, W^{[2]T} + b^{[2]}

    Args:
        X: inputs, one example per row.
        W1, b1, W2, b2: parameters with ``nn.Linear`` shapes.
        activation: hidden activation ``g``: ``"tanh"``, ``"sigmoid"``, ``"relu"``,
            ``"leaky_relu"`` or ``"identity"``.

    Shape:
        - X: (m, n0); W1: (n1, n0); b1: (n1,); W2: (n2, n1); b2: (n2,)
        - Output Z2: (m, n2)

    Example:
        >>> import torch
        >>> from torchtwolayer import two_layer
        >>> X = torch.randn(5, 3)
        >>> W1, b1, W2, b2 = torch.randn(4, 3), torch.zeros(4), torch.randn(2, 4), torch.zeros(2)
        >>> two_layer(X, W1, b1, W2, b2).shape
        torch.Size([5, 2])
    """
    get_activation(activation)
    check_parameters(X, W1, b1, W2, b2)
    return TwoLayer.apply(X, W1, b1, W2, b2, activation)


def two_layer_cost(
    X: Tensor,
    Y: Tensor,
    W1: Tensor,
    b1: Tensor,
    W2: Tensor,
    b2: Tensor,
    activation: str = "tanh",
    output: str = "sigmoid",
) -> Tensor:
    r"""The network and its cost J in one Function, with the note's backward.

    .. math::

        J = \frac{1}{m} \sum_{i=1}^{m} \mathcal{L}(A^{[2]}_i, Y_i), \qquad
        \frac{\partial J}{\partial Z^{[2]}} = \frac{1}{m}(A^{[2]} - Y)

    with :math:`\mathcal{L}` the binary cross-entropy summed over outputs
    (``output="sigmoid"``), the cross-entropy (``"softmax"``) or
    :math:`\tfrac12\lVert A^{[2]} - Y\rVert^2` (``"identity"``).

    Args:
        X: inputs, one example per row.
        Y: targets. sigmoid: values in [0, 1], (m, n2) or (m,) when n2 = 1;
            softmax: class indices (m,) or probabilities (m, n2);
            identity: (m, n2) or (m,) when n2 = 1.
        W1, b1, W2, b2: parameters with ``nn.Linear`` shapes.
        activation: hidden activation ``g``.
        output: head: ``"sigmoid"``, ``"softmax"`` or ``"identity"``.

    Shape:
        - X: (m, n0); W1: (n1, n0); b1: (n1,); W2: (n2, n1); b2: (n2,)
        - Output J: () — a scalar

    Example:
        >>> import torch
        >>> from torchtwolayer import two_layer_cost
        >>> X, Y = torch.tensor([[0.0, 1.0]]), torch.tensor([1.0])
        >>> W1, b1 = torch.zeros(3, 2, requires_grad=True), torch.zeros(3)
        >>> W2, b2 = torch.zeros(1, 3), torch.zeros(1, requires_grad=True)
        >>> J = two_layer_cost(X, Y, W1, b1, W2, b2)
        >>> round(J.item(), 4)  # log 2: A2 = 0.5
        0.6931
        >>> J.backward(); b2.grad  # db2 = A2 − Y = −0.5
        tensor([-0.5000])
    """
    Y = _checked_target(X, Y, W1, b1, W2, b2, activation, output)
    return TwoLayerCost.apply(X, Y, W1, b1, W2, b2, activation, output)


def two_layer_cost_and_logits(
    X: Tensor,
    Y: Tensor,
    W1: Tensor,
    b1: Tensor,
    W2: Tensor,
    b2: Tensor,
    activation: str = "tanh",
    output: str = "sigmoid",
) -> tuple[Tensor, Tensor]:
    """:func:`two_layer_cost` and the logits Z2 (m, n2) it computed on the way, detached from the graph."""
    Y = _checked_target(X, Y, W1, b1, W2, b2, activation, output)
    return TwoLayerCost.apply(X, Y, W1, b1, W2, b2, activation, output, True)


def _checked_target(
    X: Tensor, Y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: str, output: str
) -> Tensor:
    """Check every argument; return Y in the form the head takes."""
    get_activation(activation)
    head = get_head(output)
    check_parameters(X, W1, b1, W2, b2)
    return check_target(Y, X.shape[0], W2.shape[0], head, X.dtype)
