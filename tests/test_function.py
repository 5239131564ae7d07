"""The hand-written backward against autograd: first-order gradients, gradcheck and gradgradcheck in every
mode (reverse, forward, batched, and their second orders), Hessian-vector products. (torch.func
transforms: tests/test_torch_func.py.)"""

import dataclasses

import pytest
import torch
from conftest import ALL_ACTIVATIONS, ALL_HEADS, make_problem
from torch.autograd import gradcheck, gradgradcheck

from torchtwolayer import reference_cost, reference_logits, two_layer, two_layer_cost
from torchtwolayer.core.activations import get_activation
from torchtwolayer.core.equations import backward

SHAPES = [(1, 1, 1, 1), (1, 3, 2, 1), (7, 1, 1, 1), (5, 4, 3, 2), (2, 1, 5, 3), (33, 10, 16, 5)]


def n_out(output, n2):
    return max(n2, 2) if output == "softmax" else n2


def test_gradcheck_with_respect_to_soft_targets():
    X, _, params = make_problem(4, 2, 3, 3, "softmax")
    Y = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1).requires_grad_()
    J = two_layer_cost(X, Y, *params, output="softmax")
    (dY,) = torch.autograd.grad(J, Y)
    ref = reference_cost(X, Y, *params, output="softmax")
    (dY_ref,) = torch.autograd.grad(ref, Y)
    torch.testing.assert_close(dY, dY_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "m{}_{}-{}-{}".format(*s))
@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_cost_gradients_equal_autograd(activation, output, shape):
    m, n0, n1, n2 = shape
    X, Y, params = make_problem(m, n0, n1, n_out(output, n2), output, seed=sum(shape))
    J = two_layer_cost(X, Y, *params, activation=activation, output=output)
    J_ref = reference_cost(X, Y, *params, activation=activation, output=output)
    torch.testing.assert_close(J, J_ref, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(J, [X, *params])
    grads_ref = torch.autograd.grad(J_ref, [X, *params])
    for g, g_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "m{}_{}-{}-{}".format(*s))
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_logits_gradients_equal_autograd(activation, shape):
    m, n0, n1, n2 = shape
    X, _, params = make_problem(m, n0, n1, n2, "identity", seed=sum(shape))
    upstream = torch.randn(m, n2, dtype=torch.float64)
    Z2 = two_layer(X, *params, activation=activation)
    Z2_ref = reference_logits(X, *params, activation=activation)
    torch.testing.assert_close(Z2, Z2_ref, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(Z2, [X, *params], upstream)
    grads_ref = torch.autograd.grad(Z2_ref, [X, *params], upstream)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("output", ALL_HEADS)
def test_float32_gradients_match_autograd(output):
    X, Y, params = make_problem(64, 8, 16, n_out(output, 3), output, dtype=torch.float32)
    J = two_layer_cost(X, Y, *params, output=output)
    J_ref = reference_cost(X, Y, *params, output=output)
    assert J.dtype == torch.float32
    for g, g_ref in zip(torch.autograd.grad(J, [X, *params]), torch.autograd.grad(J_ref, [X, *params]), strict=True):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_hessian_vector_product_equals_autograd(activation, output):
    X, Y, params = make_problem(6, 3, 4, n_out(output, 2), output, seed=3)
    X = X.detach()
    vs = tuple(torch.randn_like(p) for p in params)

    def hand(*p):
        return two_layer_cost(X, Y, *p, activation=activation, output=output)

    def ref(*p):
        return reference_cost(X, Y, *p, activation=activation, output=output)

    _, hvp = torch.autograd.functional.hvp(hand, tuple(params), vs)
    _, hvp_ref = torch.autograd.functional.hvp(ref, tuple(params), vs)
    for h, h_ref in zip(hvp, hvp_ref, strict=True):
        torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("output", ALL_HEADS)
def test_cost_is_finite_for_huge_logits(output):
    n2 = n_out(output, 2)
    X = torch.ones(4, 1, dtype=torch.float32, requires_grad=True)
    W1 = torch.ones(1, 1, requires_grad=True)
    b1 = torch.zeros(1)
    W2 = torch.tensor([[1e4], [-1e4]])[:n2].requires_grad_()
    b2 = torch.zeros(n2)
    _, Y, _ = make_problem(4, 1, 1, n2, output, dtype=torch.float32)
    Y = 1 - Y if output == "sigmoid" else Y  # the wrong side of a saturated sigmoid
    for act in ("identity",):
        J = two_layer_cost(X, Y, W1, b1, W2, b2, activation=act, output=output)
        assert torch.isfinite(J)
        for g in torch.autograd.grad(J, [X, W1, W2]):
            assert torch.isfinite(g).all()


def test_sigmoid_cost_value_at_huge_logits():
    # L(z = 1e4, y = 0) = softplus(1e4) = 1e4 exactly, where log(1 − σ(z)) would give inf
    J = two_layer_cost(
        torch.ones(1, 1),
        torch.zeros(1),
        torch.ones(1, 1),
        torch.zeros(1),
        torch.tensor([[1e4]]),
        torch.zeros(1),
        activation="identity",
    )
    assert J.item() == pytest.approx(1e4)


def test_only_needed_gradients_are_computed():
    def g_backward_must_not_run(dA1, A1, *args):
        raise AssertionError("dZ1 computed although no gradient of X, W1 or b1 was asked for")

    g = get_activation("tanh")
    g_spy = dataclasses.replace(g, backward_op=g_backward_must_not_run)
    X, _, (W1, b1, W2, _b2) = make_problem(3, 2, 4, 1, "identity")
    A1 = torch.tanh(X @ W1.T + b1)
    grads = backward(torch.ones(3, 1, dtype=torch.float64), X, A1, W1, W2, g_spy, (False, False, False, True, True))
    assert grads.dX is None and grads.dW1 is None and grads.db1 is None
    assert grads.dW2 is not None and grads.db2 is not None


def test_frozen_first_layer_gets_no_gradient_and_matches_autograd():
    X, Y, (W1, b1, W2, b2) = make_problem(8, 3, 4, 1, "sigmoid", x_grad=False)
    W1.requires_grad_(False)
    b1.requires_grad_(False)
    J = two_layer_cost(X, Y, W1, b1, W2, b2)
    J.backward()
    assert W1.grad is None and b1.grad is None and X.grad is None
    dW2, _db2 = torch.autograd.grad(reference_cost(X, Y, W1, b1, W2, b2), [W2, b2])
    torch.testing.assert_close(W2.grad, dW2, rtol=0, atol=1e-12)


def test_tensors_saved_with_save_for_backward_only():
    X, Y, params = make_problem(3, 2, 4, 1, "sigmoid")
    for out in (two_layer_cost(X, Y, *params), two_layer(X, *params)):
        ctx_tensors = [k for k, v in vars(out.grad_fn).items() if isinstance(v, torch.Tensor)]
        assert ctx_tensors == []
        assert len(out.grad_fn.saved_tensors) >= 5


def problem(output, y_grad=True, m=3, n0=2, n1=4):
    """X, Y, [W1, b1, W2, b2] in float64; float Y (sigmoid, identity) requires grad too when ``y_grad``."""
    X, Y, params = make_problem(m, n0, n1, 3 if output == "softmax" else 2, output)
    if y_grad and Y.is_floating_point():
        Y.requires_grad_()
    return X, Y, params


ALL_MODES = {
    "check_forward_ad": True,
    "check_backward_ad": True,
    "check_batched_grad": True,
    "check_batched_forward_grad": True,
}
ALL_SECOND_ORDER = {"check_fwd_over_rev": True, "check_rev_over_rev": True, "check_batched_grad": True}


# ---- gradcheck / gradgradcheck: reverse, forward, batched, and their second orders -----------
# Finite differences cost two evaluations per input number: small shapes, more than one example.

SMALL = {"m": 3, "n0": 2, "n1": 4}  # finite differences: two evaluations per input number


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_cost_function_passes_gradcheck_and_gradgradcheck_in_every_mode(activation, output):
    X, Y, params = problem(output, **SMALL)
    inputs = (X, Y, *params)  # Y (float heads) differentiated too: the target's term of dJ

    def f(X, Y, *p):
        return two_layer_cost(X, Y, *p, activation=activation, output=output)

    assert gradcheck(f, inputs, **ALL_MODES)
    assert gradgradcheck(f, inputs, **ALL_SECOND_ORDER)


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_logits_function_passes_gradcheck_and_gradgradcheck_in_every_mode(activation):
    X, _, params = problem("identity", **SMALL)

    def f(*args):
        return two_layer(*args, activation=activation)

    assert gradcheck(f, (X, *params), **ALL_MODES)
    assert gradgradcheck(f, (X, *params), **ALL_SECOND_ORDER)


@pytest.mark.parametrize("x_grad", [True, False])
def test_gradcheck_with_some_inputs_constant(x_grad):
    # needs_input_grad and absent tangents: X (or the first layer) held constant
    X, Y, (W1, b1, W2, b2) = problem("sigmoid", y_grad=False, **SMALL)
    X.requires_grad_(x_grad)
    W1.requires_grad_(not x_grad)
    b1.requires_grad_(False)
    inputs = (X, W1, W2, b2)

    def f(X, W1, W2, b2):
        return two_layer_cost(X, Y, W1, b1, W2, b2)

    assert gradcheck(f, inputs, **ALL_MODES)
    assert gradgradcheck(f, inputs, **ALL_SECOND_ORDER)
