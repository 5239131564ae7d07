"""Per-sample gradients in closed form against vmap(grad), and as Opacus's rule for DP-SGD."""

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import ALL_ACTIVATIONS, ALL_HEADS, make_problem
from torch.func import functional_call, grad, vmap
from torch.utils.data import DataLoader, TensorDataset

from torchtwolayer import TwoLayerNet, per_sample_grads, reference_cost, register_opacus

M, N0, N1 = 6, 3, 4


def n_out(output):
    return 3 if output == "softmax" else 2


def net_and_data(activation, output, n2=None, dtype=torch.float64, m=M, seed=0):
    n2 = n2 or n_out(output)
    net = TwoLayerNet(N0, N1, n2, activation=activation, output=output, seed=seed, dtype=dtype)
    X, Y, _ = make_problem(m, N0, N1, n2, output, dtype=dtype, seed=seed)
    return net, X.detach(), Y


def vmap_grad(net, X, Y, cost):
    """torch.func's per-sample gradients: grad of each example's cost (a batch of one), vmapped."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    return vmap(grad(lambda p, x, y: cost(p, x[None], y[None])), (None, 0, 0))(params, X, Y)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_per_sample_grads_equal_vmap_of_grad(activation, output):
    net, X, Y = net_and_data(activation, output)
    ours = per_sample_grads(net, X, Y)._asdict()
    assert list(ours) == [k for k, _ in net.named_parameters()]

    def hand(p, X, Y):  # net.cost with the parameters p
        return _cost_of(net, p, X, Y)

    def ref(p, X, Y):
        return reference_cost(X, Y, p["W1"], p["b1"], p["W2"], p["b2"], activation, output)

    for cost in (hand, ref):
        theirs = vmap_grad(net, X, Y, cost)
        for k, v in ours.items():
            assert v.shape == (M, *net.get_parameter(k).shape)
            torch.testing.assert_close(v, theirs[k], rtol=0, atol=1e-10)


def _cost_of(net, p, X, Y):
    """``net.cost(X, Y)`` with the parameters ``p``, through functional_call on a one-line module."""
    return functional_call(_Cost(net), {f"net.{k}": v for k, v in p.items()}, (X, Y))


class _Cost(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, X, Y):
        return self.net.cost(X, Y)


def test_mean_of_per_sample_grads_is_the_gradient_of_the_cost():
    net, X, Y = net_and_data("relu", "softmax")
    net.cost(X, Y).backward()
    for (k, p), v in zip(net.named_parameters(), per_sample_grads(net, X, Y), strict=True):
        torch.testing.assert_close(v.mean(0), p.grad, rtol=0, atol=1e-12, msg=k)


def test_per_sample_grads_check_their_input():
    net, X, Y = net_and_data("tanh", "sigmoid")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        per_sample_grads(net, X, Y + 1)
    with pytest.raises(TypeError, match="network's parameters"):
        per_sample_grads(net, X.float(), Y)


# ---- Opacus ----------------------------------------------------------------------------------

opacus = pytest.importorskip("opacus", reason="opacus is in the test extra")

# Each head's loss of the logits as Opacus sees it (it hooks net(X), not net.cost): the mean over
# the examples of each one's loss L_i, so that loss_reduction="mean" (×m) recovers ∇L_i.
LOSSES = {
    "sigmoid": lambda Z2, Y: F.binary_cross_entropy_with_logits(Z2, Y.reshape(Z2.shape)),  # n2 = 1
    "softmax": F.cross_entropy,
    "identity": lambda Z2, Y: 0.5 * (Z2 - Y.reshape(Z2.shape)).pow(2).sum(1).mean(),
}


@pytest.mark.filterwarnings("ignore:Secure RNG turned off", "ignore:Full backward hook is firing")
@pytest.mark.parametrize(("output", "loss_reduction"), [*((o, "mean") for o in ALL_HEADS), ("sigmoid", "sum")])
def test_opacus_dp_sgd_sees_our_per_sample_grads(output, loss_reduction):
    register_opacus()
    n2 = 1 if output == "sigmoid" else n_out(output)
    net, X, Y = net_and_data("tanh", output, n2=n2, dtype=torch.float32, m=64, seed=1)
    mean_loss = LOSSES[output]

    def loss_of(Z2, Y):  # (1/m) Σ L_i, or Σ L_i for loss_reduction="sum"
        return mean_loss(Z2, Y) * (Z2.shape[0] if loss_reduction == "sum" else 1)

    loader = DataLoader(TensorDataset(X, Y), batch_size=16)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    engine = opacus.PrivacyEngine()
    model, optimizer, loader = engine.make_private(
        module=net,
        optimizer=optimizer,
        data_loader=loader,
        noise_multiplier=0.5,
        max_grad_norm=1.0,
        loss_reduction=loss_reduction,
    )
    before = [p.detach().clone() for p in net.parameters()]
    checked = 0
    for Xb, Yb in loader:
        if len(Xb) == 0:  # Poisson sampling may draw an empty batch
            continue
        optimizer.zero_grad()
        loss_of(model(Xb), Yb).backward()
        if not checked:  # Opacus's per-sample gradients, before clipping and noise
            ours = per_sample_grads(net, Xb, Yb)
            for (k, p), v in zip(net.named_parameters(), ours, strict=True):
                torch.testing.assert_close(p.grad_sample, v, rtol=0, atol=1e-6, msg=k)
            checked += 1
        optimizer.step()
    assert checked == 1
    assert all(torch.isfinite(p).all() and not torch.equal(p, b) for p, b in zip(net.parameters(), before, strict=True))
    assert engine.get_epsilon(delta=1e-5) > 0


@pytest.mark.filterwarnings("ignore:Secure RNG turned off", "ignore:Full backward hook is firing")
def test_the_docs_opacus_example_runs():
    page = (Path(__file__).resolve().parents[1] / "docs/func-and-opacus.md").read_text()
    (code,) = re.findall(r"```py\n(.*?)```", page, re.S)
    ns = {}
    exec(compile(code, "docs/func-and-opacus.md", "exec"), ns)
    assert ns["grads"].W1.shape == (256, 8, 2) and ns["grads"].b2.shape == (256, 1)
    assert all(torch.isfinite(p).all() for p in ns["net"].parameters())
