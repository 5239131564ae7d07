"""The note's gradient descent as one fused step: no autograd graph, no optimizer object.

Forward, the cost, the six backward equations from dZ2 = A2 − Y, and
W ← W − α dW applied in place, for every parameter. The 1/m of the note's
gradients is folded into the step size, α/m, so dZ2 is literally A2 − Y.

:class:`GradientDescent` runs that step on fixed data (the note's full batch)
as a *tape*: every equation bound once to its operands and to a buffer it
owns, in the note's own layout (examples as columns), so a step is twelve
kernel calls and no allocation.
:func:`forward_backward` computes the same gradients for any batch through
:mod:`~torchtwolayer.equations` (the Lightning module's fast path).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial

import torch
from torch import Tensor

from . import equations
from .activations import get_activation
from .equations import Gradients
from .heads import as_dense_target, get_head
from .module import TwoLayerNet
from .validation import check_parameters, check_target

TINY_FLOPS = 1 << 20


def prepare_target(net: TwoLayerNet, X: Tensor, Y: Tensor, check_values: bool = True) -> Tensor:
    """Check X and Y against ``net`` and return Y as a dense (m, n2) tensor of X's dtype.

    ``check_values=False`` is for batches of data checked when it was loaded (the data
    module's): no check at all, only the reshaping.
    """
    if check_values:
        check_parameters(X, net.W1, net.b1, net.W2, net.b2)
        Y = check_target(Y, X.shape[0], net.n_y, get_head(net.output), X.dtype)
    elif Y.dim() == 1 and Y.is_floating_point():  # already checked: only the (m,) → (m, 1) view
        Y = Y.unsqueeze(1)
    return as_dense_target(Y, net.n_y, X.dtype)


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


class GradientDescent:
    """Full-batch gradient descent on fixed data, fused: check once, then step fast.

    Equal to ``net.cost(X, Y).backward()`` followed by ``torch.optim.SGD(lr=lr).step()``
    at every step, without building a graph or allocating memory. The tape binds the
    network's parameter tensors when it is made: after ``net.to(...)``, ``net.double()`` or
    assigning new parameters, make a new ``GradientDescent`` (``load_state_dict`` is fine:
    it copies into the same tensors).

    Args:
        net: the network, updated in place.
        X, Y: the training data, as :func:`two_layer_cost` takes them.
        lr: the learning rate α.

    Example:
        >>> import torch
        >>> from torchtwolayer import GradientDescent, TwoLayerNet
        >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> Y = torch.tensor([0.0, 1.0, 1.0, 0.0])
        >>> net = TwoLayerNet(2, 4, seed=0)
        >>> costs = GradientDescent(net, X, Y, lr=2.0).run(3000, cost_every=1000)
        >>> len(costs), costs[-1] < costs[0], net.predict(X).tolist()
        (3, True, [0, 1, 1, 0])
    """

    def __init__(self, net: TwoLayerNet, X: Tensor, Y: Tensor, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.net, self.lr = net, lr
        self.X = net._as_input(X)
        self.Y = prepare_target(net, self.X, Y)
        self.forward, self.cost, self.backward = self._tape()

    def _tape(self) -> tuple[list[Callable[[], object]], Callable[[], Tensor], list[Callable[[], object]]]:
        """Each equation bound to its operands and to a buffer of its own.

        The tape works in the note's own layout, one example per *column*
        (X is (n0, m)): the equations read exactly as in the note, and MKL
        multiplies these shapes about twice as fast when n0 and n1 are small.
        """
        W1, b1, W2, b2 = self.params
        g, head = get_activation(self.net.activation), get_head(self.net.output)
        (m, n0), n1, n2 = self.X.shape, W1.shape[0], W2.shape[0]

        def new(*shape: int) -> Tensor:
            return torch.empty(*shape, dtype=self.X.dtype, device=self.X.device)

        X, Y = self.X.t().contiguous(), self.Y.t().contiguous()  # (n0, m), (n2, m)
        A1, Z2, dZ2, dZ1 = new(n1, m), new(n2, m), new(n2, m), new(n1, m)
        dW1, db1, dW2, db2 = new(n1, n0), new(n1), new(n2, n1), new(n2)
        forward = [
            partial(torch.addmm, b1[:, None], W1, X, out=A1),  # Z1 = W1 X + b1
            partial(g.forward_, A1),  # A1 = g(Z1)
            partial(torch.addmm, b2[:, None], W2, A1, out=Z2),  # Z2 = W2 A1 + b2
        ]
        backward = [
            partial(head.link_out, Z2.t(), dZ2.t()),  # A2 = σ(Z2)
            partial(dZ2.sub_, Y),  # dZ2 = A2 − Y
            partial(torch.mm, dZ2, A1.t(), out=dW2),  # m dW2 = dZ2 A1ᵀ
            partial(torch.sum, dZ2, 1, out=db2),  # m db2 = Σ dZ2
            partial(torch.mm, W2.t(), dZ2, out=dZ1),  # W2ᵀ dZ2
            partial(g.backward_, dZ1, A1),  # dZ1 = W2ᵀ dZ2 ∗ g′(Z1)
            partial(torch.mm, dZ1, self.X, out=dW1),  # m dW1 = dZ1 Xᵀ
            partial(torch.sum, dZ1, 1, out=db1),  # m db1 = Σ dZ1
            # W ← W − α dW for every parameter, the 1/m of every dW folded into α
            partial(torch._foreach_add_, self.params, [dW1, db1, dW2, db2], alpha=-self.lr / m),
        ]
        return forward, partial(head.cost, Z2.t(), Y.t()), backward

    @property
    def params(self) -> list[Tensor]:
        return [self.net.W1, self.net.b1, self.net.W2, self.net.b2]

    def step(self, cost: bool = False) -> Tensor | None:
        """One step; returns J (before the step) when ``cost`` is true."""
        with torch.no_grad():
            return self._step(cost)

    def _step(self, cost: bool) -> Tensor | None:
        for op in self.forward:
            op()
        J = self.cost() if cost else None
        for op in self.backward:
            op()
        return J

    def run(self, steps: int, cost_every: int = 0) -> list[float]:
        """``steps`` steps; the cost before every ``cost_every``-th step (none if 0)."""
        costs = []
        with torch.no_grad(), single_thread_if_tiny(self.X, self.net.n_h):
            for i in range(steps):
                J = self._step(cost_every > 0 and i % cost_every == 0)
                if J is not None:
                    costs.append(J.item())
        return costs


def gradient_descent_step(net: TwoLayerNet, X: Tensor, Y: Tensor, lr: float, cost: bool = True) -> Tensor | None:
    r"""One step of the note's gradient descent on ``net``, in place; returns J before the step.

    .. math::

        W \leftarrow W - \alpha\, dW \quad \text{for } W \in \{W^{[1]}, b^{[1]}, W^{[2]}, b^{[2]}\}

    For many steps on the same data, :class:`GradientDescent` checks the data once
    and reuses its buffers.

    Example:
        >>> import torch
        >>> from torchtwolayer import TwoLayerNet, gradient_descent_step
        >>> net = TwoLayerNet(2, 3, seed=0)
        >>> X, Y = torch.randn(8, 2), torch.ones(8)
        >>> J0 = gradient_descent_step(net, X, Y, lr=0.5)
        >>> bool(net.cost(X, Y) < J0)
        True
    """
    return GradientDescent(net, X, Y, lr).step(cost)


@contextlib.contextmanager
def single_thread_if_tiny(X: Tensor, n_h: int) -> Iterator[None]:
    """Run tiny CPU problems on one thread: for matrix products of a few thousand
    multiply-adds, waking a second BLAS thread costs more than the work itself."""
    threads = torch.get_num_threads()
    tiny = X.device.type == "cpu" and X.numel() * n_h < TINY_FLOPS and threads > 1
    if tiny:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if tiny:
            torch.set_num_threads(threads)
