"""torch's private names (torchtwolayer.core.compat): every public fallback forced at once, and the core
gradient checks run through them, as on a torch that lacks the private names."""

import pytest
import torch
from conftest import ALL_ACTIVATIONS, ALL_HEADS, make_problem
from torch.func import grad, vmap

from torchtwolayer import GradientDescent, TwoLayerNet, reference_cost, reference_logits, two_layer, two_layer_cost
from torchtwolayer.core import compat
from torchtwolayer.core.activations import get_activation

EXACT = 1e-10  # float64: the hand-written derivatives and autograd's agree to rounding


@pytest.fixture(params=["private", "fallbacks"])
def mode(request, monkeypatch):
    """Each test twice: with this torch's private names, and with every fallback forced."""
    if request.param == "fallbacks":
        for name, value in compat.FALLBACKS.items():
            assert hasattr(compat, name), name  # the table names what the module has
            monkeypatch.setattr(compat, name, value)
    return request.param


OLD_TORCH = tuple(int(p) for p in torch.__version__.split(".")[:2]) < (2, 5)
OLD_TORCH_REASON = "torch < 2.5 lacks is_legacy_batchedtensor: its fallback is taken there (the version matrix runs it)"


@pytest.mark.skipif(OLD_TORCH, reason=OLD_TORCH_REASON)
def test_every_private_name_exists_on_this_torch():
    """On the torch the project pins, no fallback is taken (the fast paths are the ones measured)."""
    for name, fallback in compat.FALLBACKS.items():
        assert getattr(compat, name) is not fallback, name


def test_fallbacks_take_the_public_paths(mode):
    if mode == "private" and OLD_TORCH:
        pytest.skip(OLD_TORCH_REASON)
    X = torch.randn(3, 2)
    forced = mode == "fallbacks"
    assert compat.transforms_active() is forced and compat.dual_level_open() is forced
    assert compat.is_wrapped(X) is forced and compat.is_batched_for_grads(X) is forced
    assert compat.unwrapped(X) is X and compat.can_unwrap() is not forced
    assert (compat.out_overload(torch.ops.aten.tanh_backward, "grad_input") is None) is forced
    assert compat.version(X.add_(1)) == (0 if forced else 1)
    assert compat.autocast_enabled("cpu") is False and compat.is_compiling() is False
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert compat.autocast_enabled("cpu") and compat.autocast_dtype("cpu") == torch.bfloat16
    a, b = [torch.ones(2), torch.ones(3)], [torch.full((2,), 2.0), torch.full((3,), 3.0)]
    compat.foreach_add_(a, b, alpha=0.5)
    compat.foreach_mul_(a, 2.0)
    assert a[0].tolist() == [4.0, 4.0] and a[1].tolist() == [5.0, 5.0, 5.0]


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_in_place_derivatives_equal_the_fused_kernels(activation, mode):
    g = get_activation(activation)
    A1 = g.forward_(torch.randn(5, 4, dtype=torch.float64))
    dA1 = torch.randn(5, 4, dtype=torch.float64)
    torch.testing.assert_close(g.backward_(dA1.clone(), A1), g.backward(dA1, A1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_cost_and_logits_gradients_equal_autograd(activation, output, mode):
    n2 = 3 if output == "softmax" else 2
    X, Y, params = make_problem(6, 3, 4, n2, output, seed=1)
    for ours, ref in (
        (two_layer_cost(X, Y, *params, activation, output), reference_cost(X, Y, *params, activation, output)),
        (two_layer(X, *params, activation).sum(), reference_logits(X, *params, activation).sum()),
    ):
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
        grads, grads_ref = torch.autograd.grad(ours, [X, *params]), torch.autograd.grad(ref, [X, *params])
        for g, g_ref in zip(grads, grads_ref, strict=True):
            torch.testing.assert_close(g, g_ref, rtol=0, atol=EXACT)


@pytest.mark.parametrize("output", ALL_HEADS)
def test_gradcheck_gradgradcheck_and_torch_func(output, mode):
    n2 = 3 if output == "softmax" else 2
    X, Y, params = make_problem(3, 2, 3, n2, output, seed=2)
    fn = lambda X, *p: two_layer_cost(X, Y, *p, output=output)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (X, *params), check_forward_ad=True, check_batched_grad=True)
    assert torch.autograd.gradgradcheck(fn, (X, *params))
    per_row = vmap(grad(lambda W1, x, y: two_layer_cost(x[None], y[None], W1, *params[1:], output=output)),
                   in_dims=(None, 0, 0))(params[0], X.detach(), Y)  # fmt: skip
    ref = vmap(grad(lambda W1, x, y: reference_cost(x[None], y[None], W1, *params[1:], output=output)),
               in_dims=(None, 0, 0))(params[0], X.detach(), Y)  # fmt: skip
    torch.testing.assert_close(per_row, ref, rtol=0, atol=EXACT)


def test_gradient_descent_equals_autograd_and_sgd(mode):
    X, Y, _ = make_problem(12, 3, 5, 1, "sigmoid", seed=3, x_grad=False)
    fused, ref = (TwoLayerNet(3, 5, seed=0, dtype=torch.float64) for _ in range(2))
    GradientDescent(fused, X, Y, lr=0.5, batch_size=5, momentum=0.9, weight_decay=0.01).run(6)
    groups = [{"params": [ref.W1, ref.W2], "weight_decay": 0.01}, {"params": [ref.b1, ref.b2]}]
    opt = torch.optim.SGD(groups, lr=0.5, momentum=0.9)
    for epoch in range(2):
        for idx in GradientDescent(ref, X, Y, lr=0.5, batch_size=5).epoch_order(epoch).split(5):
            opt.zero_grad()
            ref.cost(X[idx], Y[idx]).backward()
            opt.step()
    for p, q in zip(fused.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)


def test_bad_values_are_named_through_the_fallbacks(mode):
    net = TwoLayerNet(2, 3, seed=0)
    X, Y = torch.randn(4, 2), torch.tensor([0.0, 1, 1, 0])
    with pytest.raises(ValueError, match="X contains NaN"):
        net.cost(X.index_fill(0, torch.tensor([1]), float("nan")), Y)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        net.cost(X, Y * 2)
    under_vmap = lambda: vmap(lambda x, y: net.cost(x[None], y[None]))(X, Y * 2)  # noqa: E731
    if mode == "private":
        with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
            under_vmap()
    else:  # a torch without a way beneath vmap's wrappers: values under a transform go unchecked
        assert under_vmap().shape == (4,)


@pytest.mark.parametrize("n2", [1, 3])
def test_bce_with_logits_mean_is_functionals(n2, mode):
    """The op under F.binary_cross_entropy_with_logits, called directly, is that function: value and gradient."""
    gen = torch.Generator().manual_seed(4)
    Z2 = torch.randn(6, n2, generator=gen, dtype=torch.float64, requires_grad=True)
    Y = torch.rand(6, n2, generator=gen, dtype=torch.float64)
    ours, ref = compat.bce_with_logits_mean(Z2, Y), torch.nn.functional.binary_cross_entropy_with_logits(Z2, Y)
    assert ours.item() == ref.item()
    assert torch.equal(*(torch.autograd.grad(J, Z2)[0] for J in (ours, ref)))


def _cost_and_grads(net, X, Y):
    net.zero_grad()
    J = net.cost(X, Y)
    J.backward()
    return J.detach(), [p.grad.clone() for p in net.parameters()]


def test_parameters_named_is_what_the_attributes_give(mode):
    """The module reads its parameters from nn.Module's dictionary; where parametrize, prune or
    functional_call put other tensors in their place, the call uses those, as attribute lookups would."""
    from torch.nn.utils import parametrize, prune

    X, Y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0.0, 1, 1, 0, 1], dtype=torch.float64)
    net = TwoLayerNet(3, 4, seed=0, dtype=torch.float64)
    assert compat.parameters_named(net, ("W1", "b2")) == [net.W1, net.b2]

    class Doubled(torch.nn.Module):
        def forward(self, W):
            return 2 * W

    doubled = TwoLayerNet(3, 4, seed=0, dtype=torch.float64)
    parametrize.register_parametrization(doubled, "W1", Doubled())
    plain = TwoLayerNet(3, 4, seed=0, dtype=torch.float64)
    with torch.no_grad():
        plain.W1.mul_(2)
    assert torch.equal(doubled.cost(X, Y), plain.cost(X, Y))

    pruned = TwoLayerNet(3, 4, seed=0, dtype=torch.float64)
    prune.custom_from_mask(pruned, "W2", torch.tensor([[1.0, 0, 1, 0]], dtype=torch.float64))
    with torch.no_grad():
        plain.W1.div_(2)
        plain.W2.mul_(torch.tensor([[1.0, 0, 1, 0]], dtype=torch.float64))
    assert torch.equal(pruned.cost(X, Y), plain.cost(X, Y))

    swapped = {k: v.detach() * 3 for k, v in net.named_parameters()}
    with torch.no_grad():
        for name, p in plain.named_parameters():
            p.copy_(swapped[name])
    assert torch.equal(torch.func.functional_call(net, swapped, (X,)), plain(X))


def test_a_dead_torch_func_wrapper_is_unwrapped_as_function_apply_does(mode):
    """A tensor that escaped a transform (a dead wrapper) goes through Function.apply, which unwraps it:
    the same cost and gradients as the plain tensor."""
    leaked = []
    grad(lambda x: leaked.append(x) or x.sum())(torch.randn(5, 3, dtype=torch.float64))
    dead = leaked[0]
    assert compat.is_wrapped(dead)
    Y = torch.tensor([0.0, 1, 1, 0, 1], dtype=torch.float64)
    net = TwoLayerNet(3, 4, seed=0, dtype=torch.float64)
    J, grads = _cost_and_grads(net, dead, Y)
    J_ref, grads_ref = _cost_and_grads(net, compat.unwrapped(dead).clone(), Y)
    assert J.item() == J_ref.item()
    assert all(torch.equal(a, b) for a, b in zip(grads, grads_ref, strict=True))


def test_bce_with_logits_mean_refuses_targets_of_another_shape(mode):
    """The op alone would broadcast a (4, 4) target against (4, 1) logits; F's message is kept."""
    with pytest.raises(ValueError, match="Target size"):
        compat.bce_with_logits_mean(torch.randn(4, 1), torch.rand(4, 4))
