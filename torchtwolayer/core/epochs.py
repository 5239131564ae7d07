r"""Training by whole epochs of SGD, one epoch per call: the loops under the scikit-learn estimators.

Two loops give the same weights from the same batches (epoch ``e`` visits
:func:`~torchtwolayer.batches.epoch_order` ``(m, e, seed)`` in consecutive slices; the full batch
takes the rows in order):

- :class:`FusedEpochs` runs the fused :class:`~torchtwolayer.GradientDescent` (the CPU's loop);
- :class:`FunctionEpochs` runs :meth:`TwoLayerNet.cost <torchtwolayer.TwoLayerNet.cost>` (the
  hand-written Function) and ``torch.optim.SGD``, on any device.

Both take the same arguments and offer the same four things: :meth:`run_epoch` (one epoch, its
mean cost), :meth:`cost` (J on all the rows, now), ``velocity`` (the momentum buffers, to carry
from one call to the next) and ``weight_decay``. :func:`make_epochs` picks one.

Example:
    >>> import torch
    >>> from torchtwolayer import TwoLayerNet
    >>> from torchtwolayer.core.epochs import make_epochs
    >>> X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    >>> sgd = dict(lr=0.5, batch_size=2, seed=0, momentum=0.9, nesterov=False, weight_decay=0.0)
    >>> fused = make_epochs(TwoLayerNet(2, 4, seed=0), X, Y, None, fused=True, **sgd)
    >>> function = make_epochs(TwoLayerNet(2, 4, seed=0), X, Y, None, fused=False, **sgd)
    >>> a, b = [fused.run_epoch() for _ in range(3)], [function.run_epoch() for _ in range(3)]
    >>> torch.allclose(torch.tensor(a), torch.tensor(b)), len(fused.velocity)
    (True, 4)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .batches import epoch_order
from .gradient_descent import GradientDescent
from .heads import get_head
from .module import TwoLayerNet


def weighted_cost(net: TwoLayerNet, X: Tensor, Y: Tensor, w: Tensor | None) -> Tensor:
    """J on the rows: ``net.cost(X, Y)``, or with weights w (m,) J = Σ w L / Σ w."""
    if w is None:
        return net.cost(X, Y)
    return (get_head(net.output).losses(net(X), Y) * w).sum() / w.sum()


class _Rows:
    """The training rows of an epoch loop, and J on all of them."""

    net: TwoLayerNet
    X: Tensor
    Y: Tensor
    w: Tensor | None

    @torch.no_grad()
    def cost(self) -> float:
        """J on all the rows at the current weights (weighted as the epochs weigh them)."""
        return weighted_cost(self.net, self.X, self.Y, self.w).item()


class FusedEpochs(_Rows):
    r"""Epochs of the fused :class:`~torchtwolayer.GradientDescent`.

    Args:
        net: the :class:`~torchtwolayer.TwoLayerNet`, trained in place.
        X, Y, w: the rows (m, n0), the targets (m, n2) and a weight per row (m,) or ``None``.
        lr, batch_size, seed, momentum, nesterov, weight_decay: as :class:`~torchtwolayer.GradientDescent`.
    """

    def __init__(
        self, net: TwoLayerNet, X: Tensor, Y: Tensor, w: Tensor | None, *, lr: float, batch_size: int,
        seed: int, momentum: float, nesterov: bool, weight_decay: float,
    ) -> None:  # fmt: skip
        self.net, self.X, self.Y, self.w = net, X, Y, w
        self.gd = GradientDescent(
            net, X, Y, lr, batch_size, seed, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
            sample_weight=w, check_divergence=False,  # (the estimators apply the rule with their own reference)
        )  # fmt: skip
        self.weight_decay = weight_decay

    @property
    def velocity(self) -> list[Tensor]:
        """The momentum buffers of W1, b1, W2, b2 (empty without momentum)."""
        return self.gd.velocity

    @velocity.setter
    def velocity(self, v: list[Tensor]) -> None:
        for mine, given in zip(self.gd.velocity, v, strict=True):
            mine.copy_(given)

    def run_epoch(self) -> float:
        """One epoch; its cost: the mean of the batches' J, each before its step."""
        return self.gd.run_epochs(1)[0]


class FunctionEpochs(_Rows):
    r"""Epochs through the hand-written Function and ``torch.optim.SGD`` (any device).

    Each batch: J = ``net.cost(X_b, Y_b)`` (the fused cost, backward from dZ2 = A2 − Y), or with
    sample weights J = Σ w L / Σ w over the logits of ``net(X_b)``; then one SGD step with weight
    decay on W1 and W2 only. Arguments as :class:`FusedEpochs`.
    """

    def __init__(
        self, net: TwoLayerNet, X: Tensor, Y: Tensor, w: Tensor | None, *, lr: float, batch_size: int,
        seed: int, momentum: float, nesterov: bool, weight_decay: float,
    ) -> None:  # fmt: skip
        self.net, self.X, self.Y, self.w = net, X, Y, w
        self.batch_size, self.seed, self.epoch, self.weight_decay = batch_size, seed, 0, weight_decay
        groups = [{"params": [net.W1, net.W2], "weight_decay": weight_decay}, {"params": [net.b1, net.b2]}]
        self.opt = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)

    @property
    def _params(self) -> list[Tensor]:
        return [self.net.W1, self.net.b1, self.net.W2, self.net.b2]

    @property
    def velocity(self) -> list[Tensor]:
        """The momentum buffers of W1, b1, W2, b2 (empty before the first step or without momentum)."""
        state = self.opt.state
        if not all("momentum_buffer" in state[p] for p in self._params):
            return []
        return [state[p]["momentum_buffer"] for p in self._params]

    @velocity.setter
    def velocity(self, v: list[Tensor]) -> None:
        for p, vp in zip(self._params, v, strict=True):
            self.opt.state[p]["momentum_buffer"] = vp.clone()

    def run_epoch(self) -> float:
        """One epoch; its cost: the mean of the batches' J, each before its step."""
        m = self.X.shape[0]
        if self.batch_size >= m:
            batches = [None]  # the full batch, rows in order
        else:
            order = epoch_order(m, self.epoch, self.seed).to(self.X.device)
            batches = order.split(self.batch_size)
        total = torch.zeros((), dtype=torch.float64, device=self.X.device)
        for idx in batches:
            total += self._step(idx)
        self.epoch += 1
        return (total / (m if self.w is None else self.w.sum())).item()

    def _step(self, idx: Tensor | None) -> Tensor:
        """One SGD step on the rows ``idx`` (all if None); returns J times the batch's size or weight."""
        if idx is None:
            X, Y, w = self.X, self.Y, self.w
        else:
            X, Y, w = self.X[idx], self.Y[idx], None if self.w is None else self.w[idx]
        self.opt.zero_grad()
        J = weighted_cost(self.net, X, Y, w)
        J.backward()
        weight = X.shape[0] if w is None else w.sum()
        self.opt.step()
        return J.detach() * weight


Epochs = FusedEpochs | FunctionEpochs


def make_epochs(
    net: TwoLayerNet, X: Tensor, Y: Tensor, w: Tensor | None, *, fused: bool, lr: float, batch_size: int,
    seed: int, momentum: float, nesterov: bool, weight_decay: float,
) -> Epochs:  # fmt: skip
    """:class:`FusedEpochs` if ``fused`` (the CPU's choice), else :class:`FunctionEpochs`."""
    sgd = {"lr": lr, "batch_size": batch_size, "seed": seed, "momentum": momentum, "nesterov": nesterov}
    return (FusedEpochs if fused else FunctionEpochs)(net, X, Y, w, weight_decay=weight_decay, **sgd)
