r"""Per-sample gradients in closed form, from the note's backward, and their Opacus rule.

The gradient of example i's own loss :math:`\mathcal{L}_i = \mathcal{L}(A^{[2]}_i, Y_i)`
is the note's backward on a batch of one, without the 1/m:

.. math::

    dZ^{[2]}_i = A^{[2]}_i - Y_i, \quad dW^{[2]}_i = dZ^{[2]}_i \otimes A^{[1]}_i, \quad
    db^{[2]}_i = dZ^{[2]}_i, \quad dZ^{[1]}_i = (dZ^{[2]}_i W^{[2]}) \odot g'(Z^{[1]}_i), \quad
    dW^{[1]}_i = dZ^{[1]}_i \otimes X_i, \quad db^{[1]}_i = dZ^{[1]}_i

for all m examples at once (batched outer products, no loop). Their mean over i is
the batch's gradient of J.

Opacus (DP-SGD) has no rule for :class:`~torchtwolayer.TwoLayerNet`;
:func:`register_opacus` gives it this one. The package never imports opacus
unless that function is called.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import equations
from .activations import ACTIVATIONS
from .equations import PerSampleGradients
from .heads import HEADS
from .module import TwoLayerNet
from .targets import dense_target

__all__ = ["PerSampleGradients", "per_sample_grads", "register_opacus"]


def per_sample_grads(net: TwoLayerNet, X: Tensor, Y: Tensor) -> PerSampleGradients:
    r"""The gradient of each example's own loss :math:`\mathcal{L}_i` with respect to W1, b1, W2, b2.

    Not divided by m: the same as ``torch.func.vmap(torch.func.grad(loss_i))`` where
    ``loss_i`` is ``net.cost`` on example i alone (a batch of one), and their mean over
    the examples is the gradient of ``net.cost(X, Y)``. X and Y are checked as
    :meth:`TwoLayerNet.cost` checks them. Values only: no autograd graph.

    Args:
        net: the network.
        X: inputs, one example per row.
        Y: targets, as :meth:`TwoLayerNet.cost` takes them.

    Shape:
        - X: (m, n0)
        - Output: ``W1`` (m, n1, n0), ``b1`` (m, n1), ``W2`` (m, n2, n1), ``b2`` (m, n2):
          a named tuple keyed like ``net.named_parameters()`` (``._asdict()`` gives the dict).

    Example:
        >>> import torch
        >>> from torchtwolayer import TwoLayerNet, per_sample_grads
        >>> net = TwoLayerNet(2, 3, seed=0)
        >>> X, Y = torch.randn(5, 2), torch.tensor([0.0, 1, 1, 0, 1])
        >>> grads = per_sample_grads(net, X, Y)
        >>> grads.W1.shape, grads.b2.shape
        (torch.Size([5, 3, 2]), torch.Size([5, 1]))
        >>> J = net.cost(X, Y); J.backward()
        >>> torch.allclose(grads.W1.mean(0), net.W1.grad, atol=1e-6)
        True
    """
    X, Y = net._checked_data(X, Y)
    Y = dense_target(Y, net.n2, X.dtype)  # (m, n2)
    g, head = ACTIVATIONS[net.activation], HEADS[net.output]
    with torch.no_grad():
        A1 = equations.hidden(X, net.W1, net.b1, g)  # (m, n1)
        Z2 = equations.output(A1, net.W2, net.b2)  # (m, n2)
        dZ2 = equations.output_delta(Z2, Y, head, 1.0)  # (m, n2): each example's own A2 − Y
        return equations.per_sample_backward(dZ2, X, A1, net.W2, g)


def register_opacus() -> None:
    """Give Opacus the closed-form per-sample gradients of :class:`~torchtwolayer.TwoLayerNet`.

    Call it once before ``PrivacyEngine().make_private(...)`` (calling it again is harmless).
    Opacus's hooks see ``net(X)``: train on a loss of the logits, e.g.
    ``F.binary_cross_entropy_with_logits(net(X), Y)``, not on ``net.cost`` (which bypasses
    the module call). With Opacus's default ``loss_reduction="mean"`` the loss must be the
    mean over examples of each one's loss (as ``net.cost`` and PyTorch's losses with
    ``reduction="mean"`` over one output are).

    Raises:
        ImportError: opacus is not installed.
    """
    try:
        from opacus.grad_sample import register_grad_sampler
    except ImportError as e:
        raise ImportError(
            "register_opacus needs opacus: pip install opacus (or pip install torchtwolayer[test])"
        ) from e
    register_grad_sampler(TwoLayerNet)(_opacus_grad_sampler)


def _opacus_grad_sampler(net: TwoLayerNet, activations: list[Tensor], backprops: Tensor) -> dict[nn.Parameter, Tensor]:
    """Opacus's ``grad_sampler`` signature: the module, its inputs ``[X]`` from the forward hook,
    and ``backprops`` = ∂loss/∂Z2 (m, n2) from the backward hook, already multiplied by m
    under ``loss_reduction="mean"``, so that each row is dZ2_i = ∂L_i/∂Z2_i."""
    X = activations[0].to(backprops.dtype)  # (m, n0)
    g = ACTIVATIONS[net.activation]
    with torch.no_grad():
        A1 = equations.hidden(X, net.W1, net.b1, g)  # (m, n1)
        grads = equations.per_sample_backward(backprops, X, A1, net.W2, g)
    params = (net.W1, net.b1, net.W2, net.b2)
    return {p: gs for p, gs in zip(params, grads, strict=True) if p.requires_grad}
