"""The note's gradient descent, fused: no autograd graph, no optimizer object, no allocation per step.

One step is the forward pass, the six backward equations from dZ2 = A2 − Y, and W ← W − α dW
for every parameter, each equation bound once to its operands and to a buffer it owns (a *tape*).
The 1/m of the note's gradients is folded into the step size, so dZ2 is literally A2 − Y.

:class:`GradientDescent` runs the note's full-batch gradient descent, or shuffled mini-batches:
each batch's rows are gathered into the tape's buffers with ``index_select(..., out=)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from .activations import Activation, get_activation
from .batches import epoch_order
from .heads import Head, get_head
from .module import TwoLayerNet
from .targets import dense_target
from .threads import step_work, threads_for
from .validation import check_sgd, positive_int

Op = Callable[[], object]


class _Tape:
    """The note's equations for one batch size B, in the note's layout (one example per column).

    ``XT`` (n0, B) and ``YT`` (n2, B) are the batch as columns; ``X`` (B, n0) and ``Y`` (B, n2)
    the same batch as rows (a view of the other, or the data itself). With sample weights ``w``
    (B,), dZ2's columns are scaled by w / Σw, which then replaces the 1/B.
    """

    def __init__(
        self, XT: Tensor, X: Tensor, YT: Tensor, Y: Tensor, params: list[Tensor], grads: list[Tensor],
        g: Activation, head: Head, w: Tensor | None = None,
    ) -> None:  # fmt: skip
        W1, b1, W2, b2 = params
        dW1, db1, dW2, db2 = grads
        B, n1, n2 = XT.shape[1], W1.shape[0], W2.shape[0]
        new = partial(torch.empty, dtype=XT.dtype, device=XT.device)
        A1, Z2, dZ2, dZ1 = new(n1, B), new(n2, B), new(n2, B), new(n1, B)
        self.size = B
        self.forward: list[Op] = [
            partial(torch.addmm, b1[:, None], W1, XT, out=A1),  # Z1 = W1 X + b1
            partial(g.forward_, A1),  # A1 = g(Z1)
            partial(torch.addmm, b2[:, None], W2, A1, out=Z2),  # Z2 = W2 A1 + b2
        ]
        self.backward: list[Op] = [
            partial(head.link_out, Z2.t(), dZ2.t()),  # A2 = σ(Z2)
            partial(dZ2.sub_, YT),  # dZ2 = A2 − Y
            partial(torch.mm, dZ2, A1.t(), out=dW2),  # B dW2 = dZ2 A1ᵀ
            partial(torch.sum, dZ2, 1, out=db2),  # B db2 = Σ dZ2
            partial(torch.mm, W2.t(), dZ2, out=dZ1),  # W2ᵀ dZ2
            partial(g.backward_, dZ1, A1),  # dZ1 = W2ᵀ dZ2 ∗ g′(Z1)
            partial(torch.mm, dZ1, X, out=dW1),  # B dW1 = dZ1 Xᵀ
            partial(torch.sum, dZ1, 1, out=db1),  # B db1 = Σ dZ1
        ]
        if w is None:
            self.scale: float = B  # the gradients above are B times the note's
            self.cost: Callable[[], Tensor] = partial(head.cost, Z2.t(), Y)
            self.weight: float | Tensor = B
        else:  # a batch whose weights are all 0 weighs nothing: 0/tiny, not 0/0
            wsum, wden, wn, tiny = new(()), new(()), new(B), torch.finfo(XT.dtype).tiny
            self.backward[2:2] = [  # after dZ2 = A2 − Y: the weights, and 1/Σw in place of 1/B
                partial(torch.sum, w, 0, out=wsum),
                partial(torch.clamp_min, wsum, tiny, out=wden),
                partial(torch.div, w, wden, out=wn),
                partial(dZ2.mul_, wn),
            ]
            self.scale = 1.0
            self.cost = lambda: head.losses(Z2.t(), Y).mul_(w).sum() / w.sum().clamp_min(tiny)
            self.weight = wsum


class GradientDescent:
    r"""Gradient descent on fixed data, fused: check once, then step fast.

    .. math::

        W \leftarrow W - \alpha\, dW \quad \text{for } W \in \{W^{[1]}, b^{[1]}, W^{[2]}, b^{[2]}\}

    Full batch (the note's), or shuffled mini-batches of ``batch_size`` rows: epoch ``e`` visits
    the rows in the permutation drawn from ``seed + e`` (:func:`~torchtwolayer.batches.epoch_order`,
    the rule the Lightning data module uses too), the last batch of an epoch holding what is left.
    Each step equals ``net.cost(X_batch, Y_batch).backward()`` followed by
    ``torch.optim.SGD(lr=lr, momentum=momentum, nesterov=nesterov).step()`` (weight decay on W1 and
    W2 only, as in scikit-learn), without building a graph or allocating memory.

    The tape binds the network's parameter tensors and reads X and Y when it is made: after
    ``net.to(...)``, ``net.double()`` or assigning new parameters, make a new ``GradientDescent``
    (``load_state_dict`` is fine: it copies into the same tensors). Changing X or Y in place
    afterwards is an error at the next step.

    Args:
        net: the :class:`~torchtwolayer.TwoLayerNet`, updated in place.
        X, Y: the training data, as :func:`~torchtwolayer.two_layer_cost` takes them.
        lr: the learning rate α.
        batch_size: rows per step; ``None`` (or at least m) for the note's full batch.
        seed: seed of the batch order.
        shuffle: draw a new order every epoch (otherwise the rows' own order).
        momentum, nesterov: SGD momentum, as ``torch.optim.SGD``.
        weight_decay: L2 penalty on W1 and W2: dW += weight_decay · W.
        sample_weight: a weight per row, (m,): J = Σ w L / Σ w over each batch, in place of the
            note's (1/m) Σ L.

    Shape:
        - X: (m, n0); Y: (m,), (m, n2), or class indices (m,) for a softmax head

    Example:
        >>> import torch
        >>> from torchtwolayer import GradientDescent, TwoLayerNet
        >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> Y = torch.tensor([0.0, 1.0, 1.0, 0.0])
        >>> net = TwoLayerNet(2, 4, seed=0)
        >>> costs = GradientDescent(net, X, Y, lr=2.0).run(3000, cost_every=1000)
        >>> len(costs), costs[-1] < costs[0], net.predict(X).tolist()
        (3, True, [0, 1, 1, 0])
        >>> curve = GradientDescent(net, X, Y, lr=0.5, batch_size=2, seed=0).run_epochs(5)
        >>> len(curve)
        5
    """

    def __init__(
        self,
        net: TwoLayerNet,
        X: Tensor,
        Y: Tensor,
        lr: float,
        batch_size: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        sample_weight: Tensor | None = None,
    ) -> None:
        _check_arguments(net, lr, batch_size, momentum, nesterov, weight_decay)
        self.net, self.lr, self.seed, self.shuffle = net, float(lr), seed, shuffle
        self.momentum, self.nesterov, self.weight_decay = float(momentum), nesterov, float(weight_decay)
        self.X, Y = net._checked_data(X, Y)
        self.Y = dense_target(Y, net.n2, self.X.dtype)  # (m, n2)
        self.w = _check_sample_weight(sample_weight, self.X)
        self._versions = self._data_versions()
        m = self.X.shape[0]
        self.batch_size = m if batch_size is None else min(batch_size, m)
        self.epoch, self._batch = 0, 0  # where the next step starts
        self.params = [net.W1, net.b1, net.W2, net.b2]
        self.grads = [torch.empty_like(p) for p in self.params]
        self.velocity = [torch.zeros_like(p) for p in self.params] if self.momentum else []
        self._tapes = self._make_tapes()
        self._work = step_work(self.batch_size, net.n0, net.n1, net.n2)

    # ------------------------------------------------------------------ tapes
    @property
    def full_batch(self) -> bool:
        return self.batch_size == self.X.shape[0]

    def _make_tapes(self) -> list[tuple[_Tape, list[Op], list[Op]]]:
        """One (tape, gather, update) per batch of an epoch; batches of one size share a tape."""
        g, head = get_activation(self.net.activation), get_head(self.net.output)
        if self.full_batch:  # the note's layout: X as columns, one contiguous copy
            tape = _Tape(self.X.t().contiguous(), self.X, self.Y.t().contiguous(), self.Y,
                         self.params, self.grads, g, head, self.w)  # fmt: skip
            return [(tape, [], self._update(tape.scale))]
        m, B = self.X.shape[0], self.batch_size
        self._order = torch.empty(m, dtype=torch.long, device=self.X.device)  # refilled every epoch
        sizes = [B] * (m // B) + ([m % B] if m % B else [])
        tapes, batches, start = {}, [], 0
        for size in sizes:
            if size not in tapes:  # rows are gathered into (size, n0) buffers; the tape reads their transposes
                X, Y = self.X.new_empty(size, self.X.shape[1]), self.Y.new_empty(size, self.Y.shape[1])
                w = None if self.w is None else self.w.new_empty(size)
                tapes[size] = (_Tape(X.t(), X, Y.t(), Y, self.params, self.grads, g, head, w), X, Y, w)
            tape, X, Y, w = tapes[size]
            idx = self._order[start : start + size]  # a view: it sees each epoch's new order
            gather: list[Op] = [
                partial(torch.index_select, self.X, 0, idx, out=X),
                partial(torch.index_select, self.Y, 0, idx, out=Y),
            ]
            if w is not None:
                gather.append(partial(torch.index_select, self.w, 0, idx, out=w))
            batches.append((tape, gather, self._update(tape.scale)))
            start += size
        return batches

    def _update(self, scale: float) -> list[Op]:
        """W ← W − α dW for every parameter (torch.optim.SGD's rule), the 1/``scale`` folded into α."""
        lr, mu, params, grads = self.lr, self.momentum, self.params, self.grads
        ops: list[Op] = []
        if self.weight_decay:  # dW += λ W for the weights W1 and W2
            ops.append(partial(torch._foreach_add_, grads[::2], params[::2], alpha=self.weight_decay * scale))
        if not mu:
            return [*ops, partial(torch._foreach_add_, params, grads, alpha=-lr / scale)]
        v = self.velocity
        ops += [partial(torch._foreach_mul_, v, mu), partial(torch._foreach_add_, v, grads, alpha=1 / scale)]
        if self.nesterov:  # W ← W − α (dW + μ v)
            return [*ops, partial(torch._foreach_add_, params, grads, alpha=-lr / scale),
                    partial(torch._foreach_add_, params, v, alpha=-lr * mu)]  # fmt: skip
        return [*ops, partial(torch._foreach_add_, params, v, alpha=-lr)]  # W ← W − α v

    # ------------------------------------------------------------------- steps
    @property
    def steps_per_epoch(self) -> int:
        return len(self._tapes)

    def epoch_order(self, epoch: int) -> Tensor:
        """The permutation of the rows that ``epoch`` visits, batch after batch."""
        return epoch_order(self.X.shape[0], epoch, self.seed, self.shuffle)

    def step(self, cost: bool = False) -> Tensor | None:
        """One step on the next batch; returns J on that batch (before the step) when ``cost`` is true."""
        with torch.no_grad(), threads_for(self._work, self.X.device):
            return self._step(cost)

    def _step(self, cost: bool) -> Tensor | None:
        if self._batch == 0:
            self._start_epoch()
        tape, gather, update = self._tapes[self._batch]
        for op in gather:
            op()
        for op in tape.forward:
            op()
        J = tape.cost() if cost else None
        for op in tape.backward:
            op()
        for op in update:
            op()
        self._batch += 1
        if self._batch == len(self._tapes):
            self.epoch, self._batch = self.epoch + 1, 0
        return J

    def _start_epoch(self) -> None:
        if self._data_versions() != self._versions:
            raise ValueError(
                "X, Y or sample_weight was changed in place after this GradientDescent was made; "
                "make a new GradientDescent for the new data"
            )
        if not self.full_batch:
            epoch_order(self.X.shape[0], self.epoch, self.seed, self.shuffle, out=self._order)

    def _data_versions(self) -> tuple[int, ...]:
        return tuple(t._version for t in (self.X, self.Y, self.w) if t is not None)

    def run(self, steps: int, cost_every: int = 0) -> list[float]:
        """``steps`` steps; the cost before every ``cost_every``-th step (none if 0)."""
        costs = []
        with torch.no_grad(), threads_for(self._work, self.X.device):
            for i in range(steps):
                J = self._step(cost_every > 0 and i % cost_every == 0)
                if J is not None:
                    costs.append(J.item())
        return costs

    def run_epochs(self, epochs: int) -> list[float]:
        """Train ``epochs`` whole epochs; return each epoch's mean cost over its batches, every
        batch's cost taken before its step (scikit-learn's ``loss_curve_``)."""
        if self._batch:
            raise ValueError(f"run_epochs starts at an epoch's first batch, but {self._batch} batches of this one ran")
        curve = []
        denominator = self.X.shape[0] if self.w is None else self.w.sum()
        with torch.no_grad(), threads_for(self._work, self.X.device):
            for _ in range(epochs):
                total = self.X.new_zeros((), dtype=torch.float64)
                for tape, _, _ in self._tapes:
                    total += self._step(True) * tape.weight  # J of the batch, times its size or weight
                curve.append((total / denominator).item())
        return curve


def gradient_descent_step(net: TwoLayerNet, X: Tensor, Y: Tensor, lr: float, cost: bool = True) -> Tensor | None:
    r"""One step of the note's full-batch gradient descent on ``net``, in place; returns J before the step.

    For many steps on the same data, :class:`GradientDescent` checks the data once and reuses its buffers.

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


def _check_arguments(
    net: object, lr: object, batch_size: object, momentum: object, nesterov: object, weight_decay: object
) -> None:
    if not isinstance(net, TwoLayerNet):
        raise TypeError(f"GradientDescent trains a TwoLayerNet, got {type(net).__name__}")
    check_sgd(lr, momentum, nesterov, weight_decay)
    if batch_size is not None:
        positive_int("batch_size", batch_size)


def _check_sample_weight(w: object, X: Tensor) -> Tensor | None:
    if w is None:
        return None
    if not isinstance(w, Tensor):
        w = torch.as_tensor(w)
    if w.shape != (X.shape[0],):
        raise ValueError(f"sample_weight must have shape (m,) = ({X.shape[0]},), got {tuple(w.shape)}")
    w = w.to(X)
    if not torch.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise ValueError("sample_weight must be finite and >= 0, with a positive sum")
    return w
