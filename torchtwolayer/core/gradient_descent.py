"""The note's gradient descent, fused: no autograd graph, no optimizer object, no allocation per step.

One step is the forward pass, the backward equations from dZ2 = A2 − Y, and W ← W − α dW for every
parameter, each equation bound once to its operands and to a buffer it owns (a *tape*). The 1/m of
the note's gradients is folded into the step size, so dZ2 is literally A2 − Y.

Three rearrangements keep a step close to its matrix products. The rows carry a column of ones, A1
a row of ones, and the steps keep the weights combined, ``[W1 | b1]`` and ``[W2 | b2]`` (copied from
the network when a call starts and back when it ends), so that one product gives a layer's output
(``Z1 = [W1 | b1] [X | 1]ᵀ``, ``Z2 = [W2 | b2] [A1; 1]``) and one its weights' and bias's gradients
(``[dW1 | db1] = dZ1 [X | 1]``, ``[dW2 | db2] = dZ2 [A1; 1]ᵀ``). Plain SGD adds that gradient product
to the weights in the product itself (``[W | b] ← [W | b] − α dZ [X | 1]``, one ``addmm_``): no
gradient buffer, no separate update. And an epoch's rows are gathered in its order once, at its
start: each batch is then a slice of that copy, with nothing to gather.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from . import compat
from .activations import Activation, get_activation
from .batches import epoch_order
from .divergence import DivergenceError, divergence_bound, divergence_message, has_diverged
from .heads import Head, get_head
from .module import TwoLayerNet
from .targets import dense_target
from .tasks import TASKS
from .threads import step_work, threads_for
from .validation import check_sgd, positive_int

Op = Callable[[], object]


class _Buffers:
    """A step's intermediates for batches of B rows, in the note's layout (one example per column):
    A1 (n1 + 1, B) whose last row is ones, Z2, dZ2 (n2, B), dZ1 (n1, B); with sample weights, their
    sum, its clamp and the normalised weights."""

    def __init__(self, B: int, n1: int, n2: int, like: Tensor, weighted: bool) -> None:
        new = partial(torch.empty, dtype=like.dtype, device=like.device)
        self.A1 = new(n1 + 1, B)
        self.A1[n1] = 1
        self.Z2, self.dZ2, self.dZ1 = new(n2, B), new(n2, B), new(n1, B)
        self.wsum, self.wden, self.wn = (new(()), new(()), new(B)) if weighted else (None, None, None)


class _Tape:
    """The note's equations for one batch: ``X1`` (B, n0 + 1), its rows with a ones column, ``Y``
    (B, n2) and, with sample weights, ``w`` (B,): views into the data or the epoch's gathered copy.
    ``P1`` = ``[W1 | b1]`` (n1, n0 + 1) and ``P2`` = ``[W2 | b2]`` (n2, n1 + 1) are the weights in the
    combined layout, so that each layer is one product. With weights, dZ2's columns are scaled by
    w / Σw, which then replaces the 1/B.

    ``forward`` computes Z2, ``output`` then dZ2 from it, ``backward(update)`` the rest of the
    backward pass around the two updates, each given its layer's gradient as the product (left,
    right) = (dZ2, ``[A1; 1]ᵀ``) or (dZ1, ``[X | 1]``): layer 2's update comes after W2ᵀ dZ2 has read W2, so
    that both gradients are taken at the same weights.
    """

    def __init__(
        self, X1: Tensor, Y: Tensor, w: Tensor | None, P1: Tensor, P2: Tensor, buffers: _Buffers,
        g: Activation, head: Head,
    ) -> None:  # fmt: skip
        B, n1, bf = X1.shape[0], P2.shape[1] - 1, buffers
        A1, YT = bf.A1[:-1], Y.t()  # (n1, B), (n2, B)
        self.X1, self.A1, self.dZ1, self.dZ2, self.W2T = X1, bf.A1, bf.dZ1, bf.dZ2, P2[:, :n1].t()
        self.derivative = _derivative(g, bf.dZ1, A1)
        self.forward: list[Op] = [
            partial(torch.mm, P1, X1.t(), out=A1),  # Z1 = [W1 | b1] [X | 1]ᵀ = W1 X + b1
            partial(g.forward_, A1),  # A1 = g(Z1)
            partial(torch.mm, P2, bf.A1, out=bf.Z2),  # Z2 = [W2 | b2] [A1; 1] = W2 A1 + b2
        ]
        self.output: list[Op] = [
            partial(head.link_out, _by_example(bf.Z2), _by_example(bf.dZ2)),  # A2 = σ(Z2)
            partial(bf.dZ2.sub_, YT),  # dZ2 = A2 − Y
        ]
        Z2 = _by_example(bf.Z2)  # (B, n2)
        if w is None:
            self.scale: float = B  # the gradients below are B times the note's
            self.cost: Callable[[], Tensor] = partial(head.cost, Z2, Y)
            self.weight: float | Tensor = B
        else:  # a batch whose weights are all 0 weighs nothing: 0/tiny, not 0/0
            tiny = torch.finfo(X1.dtype).tiny
            self.output += [  # the weights, and 1/Σw in place of 1/B
                partial(torch.sum, w, 0, out=bf.wsum),
                partial(torch.clamp_min, bf.wsum, tiny, out=bf.wden),
                partial(torch.div, w, bf.wden, out=bf.wn),
                partial(bf.dZ2.mul_, bf.wn),
            ]
            self.scale = 1.0
            self.cost = lambda: head.losses(Z2, Y).mul_(w).sum() / w.sum().clamp_min(tiny)
            self.weight = bf.wsum

    def backward(self, update: Callable[[int, Tensor, Tensor], list[Op]]) -> list[Op]:
        """From dZ2 to the updated weights: ``update(layer, left, right)`` gives the ops that apply
        layer's gradient left · right (B times the note's without sample weights)."""
        return [
            partial(torch.mm, self.W2T, self.dZ2, out=self.dZ1),  # W2ᵀ dZ2, before W2 changes
            *update(2, self.dZ2, self.A1.t()),  # B [dW2 | db2] = dZ2 [A1; 1]ᵀ
            *self.derivative,  # dZ1 = W2ᵀ dZ2 ∗ g′(Z1)
            *update(1, self.dZ1, self.X1),  # B [dW1 | db1] = dZ1 [X | 1]
        ]


class _Scope:
    """The scope of a call's steps: no graph, the thread rule, and the network's weights copied into
    the combined ones the tapes update, [W1 | b1] and [W2 | b2], and back into the network on the way
    out, even after an error (a user may change the weights between two calls, e.g. with
    ``load_state_dict``). A class rather than a generator: it is entered at every call of ``step``."""

    __slots__ = ("_load", "_no_grad", "_store", "_threads")

    def __init__(self, params: list[Tensor], combined: list[Tensor], work: int, device: torch.device) -> None:
        W1, b1, W2, b2 = (p.detach() for p in params)  # the same memory and version counter
        P1, P2 = combined
        self._load = [partial(torch.cat, [W, b[:, None]], 1, out=P) for W, b, P in ((W1, b1, P1), (W2, b2, P2))]
        self._store = [partial(p.copy_, part) for p, part in zip((W1, b1, W2, b2), _parts(combined), strict=True)]
        self._no_grad, self._threads = torch.no_grad(), threads_for(work, device)

    def __enter__(self) -> None:
        self._no_grad.__enter__()
        self._threads.__enter__()
        for op in self._load:
            op()

    def __exit__(self, *exc: object) -> None:
        for op in self._store:
            op()
        self._threads.__exit__(*exc)
        self._no_grad.__exit__(*exc)


def _by_example(T: Tensor) -> Tensor:
    """An (n2, B) buffer as (B, n2), the same memory: its transpose, or for one output a contiguous
    view (an ``out=`` on the transposed view costs 5 µs more a call)."""
    return T.view(T.shape[1], 1) if T.shape[0] == 1 else T.t()


def _parts(combined: list[Tensor]) -> list[Tensor]:
    """The views of W1, b1, W2, b2 in [W1 | b1], [W2 | b2] (or of their velocities)."""
    return [part for P in combined for part in (P[:, :-1], P[:, -1])]


def _derivative(g: Activation, dZ1: Tensor, A1: Tensor) -> list[Op]:
    """dZ1 ∗= g′(Z1) as bound ops: the fused kernel resolved once (none for the identity)."""
    if g.backward_op is None:
        return []
    fused = compat.out_overload(g.backward_op, "grad_input")
    if fused is None:
        return [partial(g.derivative_, dZ1, A1)]
    return [partial(fused, dZ1, A1, *g.backward_args, grad_input=dZ1)]


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
    afterwards is an error at the next epoch.

    The costs it reports are checked with the package's one divergence rule
    (:mod:`~torchtwolayer.core.divergence`): a cost that is not finite, or above 100 times the larger
    of the first reported cost and the task's chance cost, raises :class:`DivergenceError` naming the
    learning rate, with the weights put back to those of the last cost that passed. Only reported
    costs are checked (``run`` with ``cost_every``, ``run_epochs``): the rule costs no extra read.

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
        check_divergence: apply the divergence rule to the reported costs (``False``: the caller
            applies it, e.g. to a cost with its own reference).

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
        check_divergence: bool = True,
    ) -> None:
        _check_arguments(net, lr, batch_size, momentum, nesterov, weight_decay)
        self.net, self.lr, self.seed, self.shuffle = net, float(lr), seed, shuffle
        self.momentum, self.nesterov, self.weight_decay = float(momentum), nesterov, float(weight_decay)
        self.X, Y = net._checked_data(X, Y)
        self.Y = dense_target(Y, net.n2, self.X.dtype)  # (m, n2)
        self.w = _check_sample_weight(sample_weight, self.X)
        self._versions = self._data_versions()
        m, n0, n1, n2 = self.X.shape[0], net.n0, net.n1, net.n2
        self.batch_size = m if batch_size is None else min(batch_size, m)
        self.epoch, self._batch = 0, 0  # where the next step starts
        self.params = [net.W1, net.b1, net.W2, net.b2]
        # the steps' own copy of the weights, combined: P1 = [W1 | b1], P2 = [W2 | b2] (see _Scope)
        self._combined = [self.X.new_empty(n1, n0 + 1), self.X.new_empty(n2, n1 + 1)]
        self.velocity: list[Tensor] = []  # the momentum buffers of W1, b1, W2, b2: views of V1, V2
        if self.momentum:
            self._velocity = [torch.zeros_like(P) for P in self._combined]
            self.velocity = _parts(self._velocity)
        self._tapes = self._make_tapes()
        self._work = step_work(self.batch_size, n0, n1, n2)
        self._scope = _Scope(self.params, self._combined, self._work, self.X.device)
        self.check_divergence = check_divergence
        self._first_cost: float | None = None  # the divergence rule's reference
        self._good = [P.clone() for P in self._combined]  # the weights of the last cost that passed
        task = next(t for t in TASKS.values() if t.head == net.output)
        self._chance_cost = task.chance_cost(n2) * (n2 if net.output != "softmax" else 1)  # J sums the outputs

    # ------------------------------------------------------------------ tapes
    @property
    def full_batch(self) -> bool:
        return self.batch_size == self.X.shape[0]

    def _make_tapes(self) -> list[tuple[_Tape, list[Op]]]:
        """One (tape, its ops: forward, backward, update) per batch of an epoch, reading the rows in place
        (full batch) or slices of the epoch's gathered copy (``self._rows``, refilled at each epoch's start)."""
        g, head = get_activation(self.net.activation), get_head(self.net.output)
        m, n0 = self.X.shape
        X1 = self.X.new_ones(m, n0 + 1)  # the rows and a column of ones
        X1[:, :n0] = self.X
        if self.full_batch:
            Y, w, self._rows = self.Y, self.w, []
        else:  # [(source, gathered copy)]: index_select(source, 0, order, out=copy) at each epoch's start
            Y, w = torch.empty_like(self.Y), None if self.w is None else torch.empty_like(self.w)
            self._rows = [(X1, torch.empty_like(X1)), (self.Y, Y)] + ([] if w is None else [(self.w, w)])
            X1 = self._rows[0][1]  # contiguous rows: a plain copy of each
            self._order = torch.empty(m, dtype=torch.long, device=self.X.device)
        B, update = self.batch_size, self._update()
        sizes = [B] * (m // B) + ([m % B] if m % B else [])
        buffers: dict[int, _Buffers] = {}
        tapes, start = [], 0
        for size in sizes:
            if size not in buffers:
                buffers[size] = _Buffers(size, self.net.n1, self.net.n2, self.X, w is not None)
            rows = slice(start, start + size)
            ws = None if w is None else w[rows]
            tape = _Tape(X1[rows], Y[rows], ws, *self._combined, buffers[size], g, head)
            tapes.append((tape, [*tape.forward, *tape.output, *tape.backward(partial(update, tape.scale))]))
            start += size
        return tapes

    def _update(self) -> Callable[[float, int, Tensor, Tensor], list[Op]]:
        """``update(scale, layer, left, right)``: the ops of W ← W − α dW (torch.optim.SGD's rule) for
        ``layer``'s [W | b], whose gradient is left · right / ``scale`` (the 1/``scale`` folded into α).

        Plain SGD adds the product to the weights in the product itself (``addmm_``: no gradient is
        stored). With momentum or weight decay, the gradient goes to a buffer and the update follows."""
        lr, mu, decay, P = self.lr, self.momentum, self.weight_decay, self._combined
        if not mu and not decay:
            return lambda scale, layer, left, right: [partial(P[layer - 1].addmm_, left, right, alpha=-lr / scale)]
        G = [torch.empty_like(p) for p in P]  # [dW1 | db1], [dW2 | db2], times scale
        W, dW = [p[:, :-1] for p in P], [g[:, :-1] for g in G]  # the weights W1, W2, not the biases
        V = self._velocity if mu else []

        def update(scale: float, layer: int, left: Tensor, right: Tensor) -> list[Op]:
            ops: list[Op] = [partial(torch.mm, left, right, out=G[layer - 1])]
            if layer == 2:  # layer 1's gradient comes next: the updates follow it, both layers at once
                return ops
            if decay:  # dW += λ W
                ops.append(partial(compat.foreach_add_, dW, W, alpha=decay * scale))
            if not mu:
                return [*ops, partial(compat.foreach_add_, P, G, alpha=-lr / scale)]
            ops += [partial(compat.foreach_mul_, V, mu), partial(compat.foreach_add_, V, G, alpha=1 / scale)]
            if self.nesterov:  # W ← W − α (dW + μ v)
                return [*ops, partial(compat.foreach_add_, P, G, alpha=-lr / scale),
                        partial(compat.foreach_add_, P, V, alpha=-lr * mu)]  # fmt: skip
            return [*ops, partial(compat.foreach_add_, P, V, alpha=-lr)]  # W ← W − α v

        return update

    # ------------------------------------------------------------------- steps
    @property
    def steps_per_epoch(self) -> int:
        return len(self._tapes)

    def epoch_order(self, epoch: int) -> Tensor:
        """The permutation of the rows that ``epoch`` visits, batch after batch."""
        return epoch_order(self.X.shape[0], epoch, self.seed, self.shuffle)

    def step(self, cost: bool = False) -> Tensor | None:
        """One step on the next batch; returns J on that batch (before the step) when ``cost`` is true."""
        with self._scope:
            return self._step(cost)

    def _step(self, cost: bool) -> Tensor | None:
        if self._batch == 0:
            self._start_epoch()
        tape, ops = self._tapes[self._batch]
        if cost:
            n = len(tape.forward)
            for op in ops[:n]:
                op()
            J = tape.cost()
            for op in ops[n:]:
                op()
        else:
            J = None
            for op in ops:
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
        if self._rows:
            epoch_order(self.X.shape[0], self.epoch, self.seed, self.shuffle, out=self._order)
            for source, copy in self._rows:
                torch.index_select(source, 0, self._order, out=copy)

    def _data_versions(self) -> tuple[int, ...]:
        return tuple(compat.version(t) for t in (self.X, self.Y, self.w) if t is not None)

    def _check_divergence(self, cost: float, where: str) -> None:
        """The one divergence rule on a reported cost: raise (weights put back) or remember these weights."""
        if not self.check_divergence:
            return
        if self._first_cost is None and math.isfinite(cost):
            self._first_cost = cost
        bound = divergence_bound(self._first_cost or 0.0, self._chance_cost)
        if has_diverged(cost, bound):
            for P, good in zip(self._combined, self._good, strict=True):
                P.copy_(good)  # (to the network on the way out of _Scope)
            raise DivergenceError(divergence_message(where, cost, bound, self.lr))
        for P, good in zip(self._combined, self._good, strict=True):
            good.copy_(P)

    def run(self, steps: int, cost_every: int = 0) -> list[float]:
        """``steps`` steps; the cost before every ``cost_every``-th step (none if 0), each checked
        with the divergence rule (see the class)."""
        costs = []
        with self._scope:
            for i in range(steps):
                J = self._step(cost_every > 0 and i % cost_every == 0)
                if J is not None:
                    costs.append(J.item())
                    self._check_divergence(costs[-1], f"by step {i + 1}")
        return costs

    def run_epochs(self, epochs: int) -> list[float]:
        """Train ``epochs`` whole epochs; return each epoch's mean cost over its batches, every
        batch's cost taken before its step (scikit-learn's ``loss_curve_``), each checked with the
        divergence rule (see the class)."""
        if self._batch:
            raise ValueError(f"run_epochs starts at an epoch's first batch, but {self._batch} batches of this one ran")
        curve = []
        denominator = self.X.shape[0] if self.w is None else self.w.sum()
        with self._scope:
            for _ in range(epochs):
                total = self.X.new_zeros((), dtype=torch.float64)
                for tape, _ in self._tapes:
                    J = self._step(True)
                    if self.w is None:
                        total.add_(J, alpha=tape.weight)  # J of the batch, times its size
                    else:
                        total.addcmul_(J, tape.weight)  # times its weight
                curve.append((total / denominator).item())
                self._check_divergence(curve[-1], f"at epoch {self.epoch}")
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
