"""The fused gradient-descent step against autograd + torch.optim.SGD."""

import pytest
import torch
from conftest import ALL_ACTIVATIONS, ALL_HEADS, make_problem

from torchtwolayer import GradientDescent, TwoLayerNet, gradient_descent_step, reference_cost
from torchtwolayer.fused import forward_backward, prepare_target


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
    from torchtwolayer.datasets import planar

    X, y = planar(generator=torch.Generator().manual_seed(1))
    net = TwoLayerNet(2, 4, init="course", seed=2)
    costs = GradientDescent(net, (X - X.mean(0)) / X.std(0), y, lr=1.2).run(3000, cost_every=1000)
    assert len(costs) == 3 and costs[0] == pytest.approx(0.6931, abs=1e-3) and costs[-1] < 0.35


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
def test_forward_backward_gives_the_gradients_and_logits(output):
    n2 = 2 if output != "identity" else 1
    X, Y, _ = make_problem(17, 3, 4, n2, output, x_grad=False)
    net, _ = twin_nets(3, 4, n2, "relu", output)
    J, Z2, grads = forward_backward(net, X, prepare_target(net, X, Y))
    J_ref = net.cost(X, Y)
    J_ref.backward()
    assert J.item() == pytest.approx(J_ref.item(), abs=1e-12)
    torch.testing.assert_close(Z2, net(X).detach(), rtol=0, atol=1e-12)
    for g, p in zip(grads[1:], net.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, rtol=0, atol=1e-12)


def test_bad_input_is_checked_once_at_construction():
    net = TwoLayerNet(2, 3)
    with pytest.raises(ValueError, match="expects n0 = 2"):
        GradientDescent(net, torch.randn(4, 3), torch.ones(4), lr=0.1)
    with pytest.raises(ValueError, match="lr must be positive"):
        GradientDescent(net, torch.randn(4, 2), torch.ones(4), lr=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gradient_descent_step(net, torch.randn(4, 2), torch.full((4,), 3.0), lr=0.1)
