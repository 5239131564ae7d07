"""The fused gradient descent, full batch and mini-batch, against autograd + torch.optim.SGD."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import ALL_ACTIVATIONS, ALL_HEADS, make_problem

from torchtwolayer import (
    GradientDescent,
    TwoLayerNet,
    gradient_descent_step,
    reference_cost,
    reference_logits,
)
from torchtwolayer.core import equations
from torchtwolayer.core.activations import get_activation
from torchtwolayer.core.divergence import DivergenceError
from torchtwolayer.core.heads import get_head
from torchtwolayer.core.targets import dense_target
from torchtwolayer.core.threads import threads_for
from torchtwolayer.data.loader import InMemoryBatches


def twin_nets(n0, n1, n2, activation, output, dtype=torch.float64):
    make = lambda: TwoLayerNet(n0, n1, n2, activation, output, init="pytorch", seed=3, dtype=dtype)  # noqa: E731
    return make(), make()


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_fused_steps_equal_autograd_and_sgd(activation, output):
    n2 = 1 if output == "sigmoid" else 3
    X, Y, _ = make_problem(29, 4, 6, n2, output, x_grad=False)
    fused, ref = twin_nets(4, 6, n2, activation, output)
    gd = GradientDescent(fused, X, Y, lr=0.9)
    opt = torch.optim.SGD(ref.parameters(), lr=0.9)
    for _ in range(10):
        J = gd.step(cost=True)
        opt.zero_grad()
        J_ref = reference_cost(X, Y, *ref.parameters(), activation, output)
        J_ref.backward()
        opt.step()
        assert J.item() == pytest.approx(J_ref.item(), abs=1e-12)
    for p, q in zip(fused.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)


def test_run_reports_costs_at_the_cadence_and_learns_the_flower():
    """Against autograd + SGD computed here, in float64 (no figure from one CPU's float32 run)."""
    from torchtwolayer.data.builtin import planar

    X, y = planar(generator=torch.Generator().manual_seed(1))
    X, y = ((X - X.mean(0)) / X.std(0)).double(), y.double()
    net, ref = (TwoLayerNet(2, 4, init="course", seed=2, dtype=torch.float64) for _ in range(2))
    costs = GradientDescent(net, X, y, lr=1.2).run(600, cost_every=200)
    opt, ref_costs = torch.optim.SGD(ref.parameters(), lr=1.2), []
    with threads_for(1):  # tiny work: one thread, as GradientDescent runs it (a busy machine parks a second)
        for i in range(600):
            opt.zero_grad()
            J = reference_cost(X, y, *ref.parameters())
            J.backward()
            opt.step()
            if i % 200 == 0:
                ref_costs.append(J.item())
    assert costs == pytest.approx(ref_costs, abs=1e-10)
    assert costs[0] == pytest.approx(math.log(2), abs=1e-3)  # course init: weights ~ N(0, 0.01²), so Z2 ≈ 0
    assert costs[0] > costs[1] > costs[2]  # it learns


def test_run_restores_the_thread_count():
    before = torch.get_num_threads()
    GradientDescent(TwoLayerNet(2, 3), torch.randn(5, 2), torch.ones(5), lr=0.1).run(3)
    assert torch.get_num_threads() == before


def test_gradient_descent_step_equals_one_sgd_step():
    X, Y, _ = make_problem(10, 3, 5, 1, "sigmoid", x_grad=False)
    fused, ref = twin_nets(3, 5, 1, "tanh", "sigmoid")
    J = gradient_descent_step(fused, X, Y, lr=0.3)
    J_ref = ref.cost(X, Y)
    J_ref.backward()
    torch.optim.SGD(ref.parameters(), lr=0.3).step()
    assert J.item() == pytest.approx(J_ref.item(), abs=1e-14) and J.requires_grad is False
    for p, q in zip(fused.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-14)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("batch_size", [None, 8], ids=["full-batch", "batch-8"])
def test_the_tape_computes_the_gradients_of_the_equations_module(output, batch_size):
    """The tape keeps its own layout (examples as columns) but its gradients are the note's,
    as :mod:`torchtwolayer.core.equations` computes them for the same batch."""
    n2 = 2 if output != "identity" else 1
    X, Y, _ = make_problem(17, 3, 4, n2, output, x_grad=False)
    net, _ = twin_nets(3, 4, n2, "relu", output)
    before = [p.detach().clone() for p in net.parameters()]
    W1, b1, W2, b2 = before
    gd = GradientDescent(net, X, Y, lr=0.1, batch_size=batch_size, seed=2)
    gd.step()  # W ← W − 0.1 dW: the gradient, folded into the update, is (W_before − W_after) / 0.1
    idx = gd.epoch_order(0)[: batch_size or 17]
    Xb, Yb = X[idx], dense_target(net._as_target(Y, X), net.n2, X.dtype)[idx]
    g = get_activation("relu")
    A1 = equations.hidden(Xb, W1, b1, g)
    dZ2 = (get_head(output).link(equations.output(A1, W2, b2)) - Yb) / len(idx)  # the note's dZ2, with its 1/m
    expected = equations.backward(dZ2, Xb, A1, W1, W2, g)
    for p, p0, want in zip(net.parameters(), before, expected[1:], strict=True):
        torch.testing.assert_close((p0 - p.detach()) / 0.1, want, rtol=0, atol=1e-12)


BAD_ARGUMENTS = [
    ({"X": torch.randn(4, 3)}, ValueError, "expects n0 = 2"),
    ({"lr": 0}, ValueError, "lr must be positive"),
    ({"lr": float("inf")}, TypeError, "lr must be a finite number"),
    ({"lr": "0.1"}, TypeError, "lr must be a finite number"),
    ({"net": torch.nn.Linear(2, 1)}, TypeError, "trains a TwoLayerNet, got Linear"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    ({"batch_size": 2.5}, ValueError, "batch_size must be a positive integer"),
    ({"momentum": 1.0}, ValueError, "momentum must be in [0, 1)"),
    ({"nesterov": True}, ValueError, "nesterov=True needs a momentum"),
    ({"weight_decay": -1.0}, ValueError, "weight_decay must be >= 0"),
    ({"sample_weight": torch.ones(3)}, ValueError, "sample_weight must have shape (m,) = (4,)"),
    ({"sample_weight": torch.tensor([1.0, -1.0, 1.0, 1.0])}, ValueError, "finite and >= 0"),
    ({"Y": torch.full((4,), 3.0)}, ValueError, "[0, 1]"),
]


@pytest.mark.parametrize("change,error,phrase", BAD_ARGUMENTS, ids=[str(next(iter(c))) for c, _, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_clear_errors_at_construction(change, error, phrase):
    args = {"net": TwoLayerNet(2, 3), "X": torch.randn(4, 2), "Y": torch.ones(4), "lr": 0.1, **change}
    with pytest.raises(error, match=re.escape(phrase)):
        GradientDescent(**args)


def twin_batch_runs(activation, output, batch_size, m=29, epochs=2, dtype=torch.float64, **options):
    """GradientDescent and autograd + torch.optim.SGD from the same start on the same batches."""
    n2 = 1 if output == "sigmoid" else 3
    X, Y, _ = make_problem(m, 4, 6, n2, output, x_grad=False, dtype=dtype)
    w = options.pop("sample_weight", None)
    fused, ref = twin_nets(4, 6, n2, activation, output, dtype)
    gd = GradientDescent(fused, X, Y, lr=0.3, batch_size=batch_size, seed=5, sample_weight=w, **options)
    decay = options.get("weight_decay", 0.0)
    groups = [{"params": [ref.W1, ref.W2], "weight_decay": decay}, {"params": [ref.b1, ref.b2], "weight_decay": 0.0}]
    opt = torch.optim.SGD(
        groups, lr=0.3, momentum=options.get("momentum", 0.0), nesterov=options.get("nesterov", False)
    )
    curve, ref_curve = gd.run_epochs(epochs), []
    for epoch in range(epochs):
        order, total = gd.epoch_order(epoch), 0.0
        for i in range(0, m, batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            J = weighted_cost(X[idx], Y[idx], w[idx], ref, output) if w is not None else ref.cost(X[idx], Y[idx])
            J.backward()
            opt.step()
            total += J.item() * (w[idx].sum().item() if w is not None else len(idx))
        ref_curve.append(total / (w.sum().item() if w is not None else m))
    return fused, ref, curve, ref_curve


def weighted_cost(X, Y, w, net, output):
    """Σ w L / Σ w, each example's L written with nn.functional (the independent reference)."""
    Z2 = reference_logits(X, *net.parameters(), net.activation)
    if output == "sigmoid":
        L = F.binary_cross_entropy_with_logits(Z2, Y.reshape(Z2.shape), reduction="none").sum(1)
    elif output == "softmax":
        L = F.cross_entropy(Z2, Y, reduction="none")
    else:
        L = 0.5 * (Z2 - Y).square().sum(1)
    return (w * L).sum() / w.sum()


def assert_same_parameters(a, b, atol=1e-12):
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=atol)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_mini_batches_equal_autograd_and_sgd_on_the_same_batch_order(activation, output):
    fused, ref, curve, ref_curve = twin_batch_runs(activation, output, batch_size=8)  # 3 batches of 8, then 5
    assert_same_parameters(fused, ref)
    assert curve == pytest.approx(ref_curve, abs=1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {"momentum": 0.9},
        {"momentum": 0.5, "nesterov": True},
        {"weight_decay": 0.1},
        {"momentum": 0.9, "weight_decay": 0.01},
    ],
    ids=["momentum", "nesterov", "weight_decay", "momentum+weight_decay"],
)
@pytest.mark.parametrize("batch_size", [8, None], ids=["batch-8", "full-batch"])
def test_momentum_and_weight_decay_equal_torch_sgd(options, batch_size):
    fused, ref, curve, ref_curve = twin_batch_runs("tanh", "softmax", batch_size or 29, epochs=3, **options)
    assert_same_parameters(fused, ref)
    assert curve == pytest.approx(ref_curve, abs=1e-12)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("batch_size", [8, 29], ids=["batch-8", "full-batch"])
def test_sample_weights_weight_the_cost_of_each_batch(output, batch_size):
    w = torch.rand(29, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    fused, ref, curve, ref_curve = twin_batch_runs("relu", output, batch_size, sample_weight=w)
    assert_same_parameters(fused, ref)
    assert curve == pytest.approx(ref_curve, abs=1e-12)


def test_a_batch_whose_weights_are_all_zero_leaves_the_weights_as_they_were():
    X, Y = torch.randn(8, 2, dtype=torch.float64), torch.ones(8, dtype=torch.float64)
    w = torch.tensor([0.0, 0, 0, 0, 1, 1, 1, 1], dtype=torch.float64)
    net = TwoLayerNet(2, 3, seed=0, dtype=torch.float64)
    gd = GradientDescent(net, X, Y, lr=0.1, batch_size=4, shuffle=False, sample_weight=w)
    before = [p.detach().clone() for p in net.parameters()]
    assert gd.step(cost=True).item() == 0.0  # the first batch weighs nothing
    for p, q in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, q)
    gd.run(1)  # the epoch's second batch, whose weights are 1
    (J,) = gd.run_epochs(1)
    assert math.isfinite(J) and all(torch.isfinite(p).all() for p in net.parameters())


def test_a_seed_reproduces_the_run_bit_for_bit_and_another_seed_differs():
    X, Y, _ = make_problem(50, 3, 5, 1, "sigmoid", x_grad=False, dtype=torch.float32)

    def train(seed):
        net = TwoLayerNet(3, 5, seed=0)
        GradientDescent(net, X, Y, lr=0.5, batch_size=16, seed=seed).run_epochs(3)
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(train(1), train(1))
    assert not torch.equal(train(1), train(2))


def test_the_batch_order_is_the_data_modules():
    X, Y = torch.randn(20, 2), torch.ones(20)
    gd = GradientDescent(TwoLayerNet(2, 3), X, Y, lr=0.1, batch_size=5, seed=4)
    batches = InMemoryBatches(X, Y, batch_size=5, seed=4, epoch=lambda: 2)
    assert torch.equal(gd.epoch_order(2), batches.order(2))


def test_steps_continue_across_epochs_and_run_epochs_needs_an_epoch_start():
    X, Y = torch.randn(10, 2), torch.ones(10)
    gd = GradientDescent(TwoLayerNet(2, 3), X, Y, lr=0.1, batch_size=4)
    assert gd.steps_per_epoch == 3
    gd.run(4)
    assert (gd.epoch, gd._batch) == (1, 1)
    with pytest.raises(ValueError, match="starts at an epoch's first batch"):
        gd.run_epochs(1)


@pytest.mark.parametrize("batch_size", [None, 4])
def test_changing_the_data_in_place_afterwards_is_a_clear_error(batch_size):
    X, Y = torch.randn(10, 2), torch.ones(10)
    gd = GradientDescent(TwoLayerNet(2, 3), X, Y, lr=0.1, batch_size=batch_size)
    gd.run(3)
    X[0, 0] = 5.0
    with pytest.raises(ValueError, match="changed in place"):
        gd.run(3)


@pytest.mark.parametrize("batch_size", [None, 4], ids=["full-batch", "batch-4"])
def test_divergence_raises_the_one_rule_and_puts_the_last_good_weights_back(batch_size):
    X, Y, _ = make_problem(16, 3, 4, 1, "identity", dtype=torch.float32, seed=0, x_grad=False)
    X, Y = X * 100, Y * 100  # lr=10 on these: the cost explodes within a few steps

    def gd(**kw):
        net = TwoLayerNet(3, 4, output="identity", seed=0)
        return net, GradientDescent(net, X, Y, lr=10.0, batch_size=batch_size, **kw)

    net, trainer = gd()
    with pytest.raises(DivergenceError, match=r"training diverged at epoch \d+: .* lr=10 .* try lr 1\b"):
        trainer.run_epochs(50)
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the weights of the last cost that passed
    with pytest.raises(DivergenceError, match=r"training diverged by step \d+"):
        gd()[1].run(200, cost_every=1)
    curve = gd(check_divergence=False)[1].run_epochs(50)  # the caller applies the rule: no error here
    assert not all(math.isfinite(c) and c < 100 * curve[0] for c in curve)


def test_weights_loaded_between_calls_are_where_the_next_step_starts():
    """The steps keep their own copy of the weights ([W | b]) during a call: a change the user makes
    between two calls (load_state_dict) is read when the next call starts."""
    X, Y, _ = make_problem(29, 4, 6, 1, "sigmoid", x_grad=False)
    net, ref = twin_nets(4, 6, 1, "tanh", "sigmoid")
    gd = GradientDescent(net, X, Y, lr=0.3, batch_size=8, seed=5)
    gd.run(2)
    other = TwoLayerNet(4, 6, init="pytorch", seed=9, dtype=torch.float64).state_dict()
    net.load_state_dict(other)
    ref.load_state_dict(other)
    J = gd.step(cost=True)  # the epoch's third batch
    idx = gd.epoch_order(0)[16:24]
    J_ref = ref.cost(X[idx], Y[idx])
    J_ref.backward()
    torch.optim.SGD(ref.parameters(), lr=0.3).step()
    assert J.item() == pytest.approx(J_ref.item(), abs=1e-12)
    assert_same_parameters(net, ref)


def test_the_network_holds_the_weights_of_the_steps_that_ran_when_a_call_fails():
    X, Y = torch.randn(10, 2, dtype=torch.float64), torch.ones(10, dtype=torch.float64)
    net, ref = twin_nets(2, 3, 1, "tanh", "sigmoid")
    gd = GradientDescent(net, X, Y, lr=0.1, batch_size=4, shuffle=False)
    GradientDescent(ref, X.clone(), Y, lr=0.1, batch_size=4, shuffle=False).run(3)  # one whole epoch
    gd.run(2)
    X[0, 0] = 5.0  # the epoch's copy is taken: its third batch runs, the next epoch's start fails
    with pytest.raises(ValueError, match="changed in place"):
        gd.run(3)
    assert_same_parameters(net, ref, atol=0)
