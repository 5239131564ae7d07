"""The hand-written Functions under torch.func and forward-mode AD: each transform against the same math
in ``torch.nn.functional`` (torchtwolayer.core.reference) under the same transform. float64, small shapes.
(gradcheck and gradgradcheck in every mode: tests/test_function.py.)"""

import pytest
import torch
import torch.autograd.forward_ad as fwAD
from conftest import ALL_ACTIVATIONS, ALL_HEADS, make_problem
from torch import nn
from torch.func import functional_call, grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp, vmap
from torch.utils._pytree import tree_leaves

from torchtwolayer import (
    TwoLayerNet,
    reference_cost,
    reference_logits,
    two_layer,
    two_layer_cost,
    two_layer_cost_and_logits,
)

M, N0, N1 = 4, 3, 4
EXACT = 1e-10  # float64: the hand-written derivatives and autograd's agree to rounding


def n_out(output):
    return 3 if output == "softmax" else 2


def problem(output, seed=0, y_grad=True, m=M, n0=N0, n1=N1):
    """X, Y, [W1, b1, W2, b2]; float Y (sigmoid, identity) requires grad too when ``y_grad``."""
    X, Y, params = make_problem(m, n0, n1, n_out(output), output, seed=seed)
    if y_grad and Y.is_floating_point():
        Y.requires_grad_()
    return X, Y, params


def assert_trees_close(a, b, atol=EXACT):
    a, b = tree_leaves(a), tree_leaves(b)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=atol)


# ---- torch.func on the Functions, against the same transform of the reference ----------------


def cost_fns(activation, output, Y):
    """The hand-written cost and the reference, as functions of (X, W1, b1, W2, b2[, Y])."""

    def hand(X, W1, b1, W2, b2, Y=Y):
        return two_layer_cost(X, Y, W1, b1, W2, b2, activation, output)

    def ref(X, W1, b1, W2, b2, Y=Y):
        return reference_cost(X, Y, W1, b1, W2, b2, activation, output)

    return hand, ref


def cost_args(output):
    """Plain tensors for torch.func (no requires_grad): X and the parameters, and Y."""
    X, Y, params = problem(output, y_grad=False)
    args = tuple(t.detach() for t in (X, *params))
    if Y.is_floating_point():  # differentiate with respect to Y as well
        return (*args, Y), tuple(range(6)), Y
    return args, tuple(range(5)), Y


def tangents(args, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(a.shape, generator=gen, dtype=a.dtype) for a in args)


COST_TRANSFORMS = {
    "grad": lambda f, args, argnums: grad(f, argnums)(*args),
    "grad_and_value": lambda f, args, argnums: grad_and_value(f, argnums)(*args),
    "vjp": lambda f, args, argnums: vjp(f, *args)[1](torch.tensor(1.7, dtype=torch.float64)),
    "jacrev": lambda f, args, argnums: jacrev(f, argnums)(*args),
    "jacfwd": lambda f, args, argnums: jacfwd(f, argnums)(*args),
    "hessian": lambda f, args, argnums: hessian(f, argnums)(*args),
    "jvp": lambda f, args, argnums: jvp(f, args, tangents(args)),
    "jvp_of_grad": lambda f, args, argnums: jvp(grad(f, argnums), args, tangents(args)),
}


@pytest.mark.parametrize("transform", COST_TRANSFORMS)
@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_cost_under_torch_func_equals_the_reference(activation, output, transform):
    args, argnums, Y = cost_args(output)
    hand, ref = cost_fns(activation, output, Y)
    T = COST_TRANSFORMS[transform]
    assert_trees_close(T(hand, args, argnums), T(ref, args, argnums))


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_cost_under_forward_ad_equals_the_reference(activation, output):
    args, _, Y = cost_args(output)
    hand, ref = cost_fns(activation, output, Y)
    ts = tangents(args)

    def forward_mode(f):
        with fwAD.dual_level():
            return fwAD.unpack_dual(f(*(fwAD.make_dual(a, t) for a, t in zip(args, ts, strict=True)))).tangent

    assert_trees_close(forward_mode(hand), forward_mode(ref))


@pytest.mark.parametrize("output", ALL_HEADS)
def test_forward_over_reverse_without_create_graph_equals_the_reference(output):
    # autograd.grad inside a dual level, no create_graph: the tangent of the gradient is a
    # Hessian-vector product, so backward must not use the saved A1 (which carries no tangent)
    X, Y, params = problem(output, y_grad=False)
    vs = tangents(params)
    hvps = []
    for f in (two_layer_cost, reference_cost):
        with fwAD.dual_level():
            duals = [fwAD.make_dual(p.detach(), v).requires_grad_() for p, v in zip(params, vs, strict=True)]
            J = f(X.detach(), Y, *duals, "tanh", output)
            hvps.append([fwAD.unpack_dual(g).tangent for g in torch.autograd.grad(J, duals)])
    assert_trees_close(*hvps)


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_cost_under_vmap_equals_the_reference(activation, output):
    # a batch of 3 problems (X, Y batched), then 3 networks (the parameters batched)
    problems = [problem(output, seed=s, y_grad=False) for s in range(3)]
    Xs = torch.stack([X.detach() for X, _, _ in problems])
    Ys = torch.stack([Y for _, Y, _ in problems])
    params = [torch.stack([p[i].detach() for _, _, p in problems]) for i in range(4)]

    def hand(X, Y, *p):
        return two_layer_cost(X, Y, *p, activation=activation, output=output)

    def ref(X, Y, *p):
        return reference_cost(X, Y, *p, activation=activation, output=output)

    for in_dims, W in (((0, 0, None, None, None, None), [p[0] for p in params]), ((None, None, 0, 0, 0, 0), params)):
        X, Y = (Xs, Ys) if in_dims[0] == 0 else (Xs[0], Ys[0])
        assert_trees_close(vmap(hand, in_dims)(X, Y, *W), vmap(ref, in_dims)(X, Y, *W))


LOGITS_TRANSFORMS = {
    "vjp": lambda f, args: vjp(f, *args)[1](torch.ones(M, 2, dtype=torch.float64).cumsum(0)),
    "jacrev": lambda f, args: jacrev(f, tuple(range(5)))(*args),
    "jacfwd": lambda f, args: jacfwd(f, tuple(range(5)))(*args),
    "hessian": lambda f, args: hessian(lambda *a: (f(*a) ** 2).sum(), tuple(range(5)))(*args),
    "jvp": lambda f, args: jvp(f, args, tangents(args)),
    "vmap": lambda f, args: vmap(f, (0, None, None, None, None))(torch.stack([args[0], 2 * args[0]]), *args[1:]),
    "vmap_of_grad": lambda f, args: vmap(grad(lambda x, *p: f(x[None], *p).sum(), tuple(range(5))), (0, *[None] * 4))(
        *args
    ),
}


@pytest.mark.parametrize("transform", LOGITS_TRANSFORMS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_logits_under_torch_func_equals_the_reference(activation, transform):
    X, _, params = problem("identity")
    args = tuple(t.detach() for t in (X, *params))
    T = LOGITS_TRANSFORMS[transform]
    assert_trees_close(
        T(lambda *a: two_layer(*a, activation=activation), args),
        T(lambda *a: reference_logits(*a, activation=activation), args),
    )


def test_logits_under_forward_ad_equal_the_reference():
    X, _, params = problem("identity")
    args = tuple(t.detach() for t in (X, *params))
    ts = tangents(args)
    out = []
    for f in (two_layer, reference_logits):
        with fwAD.dual_level():
            out.append(fwAD.unpack_dual(f(*(fwAD.make_dual(a, t) for a, t in zip(args, ts, strict=True)))).tangent)
    assert_trees_close(*out)


def test_cost_and_logits_gives_the_gradient_of_J_and_plain_logits_under_transforms():
    X, Y, params = problem("softmax")
    args = tuple(t.detach() for t in (X, *params))

    def J_and_Z2(X, *p):
        J, Z2 = two_layer_cost_and_logits(X, Y, *p, output="softmax")
        return J, Z2

    (dJ, Z2) = grad(J_and_Z2, tuple(range(5)), has_aux=True)(*args)
    assert_trees_close(dJ, grad(lambda *a: reference_cost(a[0], Y, *a[1:], output="softmax"), tuple(range(5)))(*args))
    assert_trees_close(Z2, reference_logits(*args))
    Js, Z2s = vmap(J_and_Z2, (None, 0, None, None, None))(args[0], torch.stack([args[1], -args[1]]), *args[2:])
    assert Js.shape == (2,) and Z2s.shape == (2, M, 3)


# ---- TwoLayerNet through functional_call ----------------------------------------------------


class Cost(nn.Module):
    """``net.cost`` as a module call, so that functional_call reaches it (it calls ``forward``)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, X, Y):
        return self.net.cost(X, Y)


def net_and_data(activation, output):
    net = TwoLayerNet(N0, N1, n_out(output), activation=activation, output=output, seed=0, dtype=torch.float64)
    X, Y, _ = problem(output, y_grad=False)
    return net, X.detach(), Y


@pytest.mark.parametrize("output", ALL_HEADS)
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_module_under_functional_call_equals_the_reference(activation, output):
    net, X, Y = net_and_data(activation, output)
    params = {k: v.detach() for k, v in net.named_parameters()}

    def ref_cost(p, X, Y):
        return reference_cost(X, Y, p["W1"], p["b1"], p["W2"], p["b2"], activation, output)

    def hand_cost(p, X, Y):
        return functional_call(Cost(net), {f"net.{k}": v for k, v in p.items()}, (X, Y))

    def hand_logits(p, X):
        return functional_call(net, p, (X,))

    def ref_logits(p, X):
        return reference_logits(X, p["W1"], p["b1"], p["W2"], p["b2"], activation)

    assert_trees_close(grad_and_value(hand_cost)(params, X, Y), grad_and_value(ref_cost)(params, X, Y))
    assert_trees_close(hessian(hand_cost)(params, X, Y), hessian(ref_cost)(params, X, Y))
    assert_trees_close(jacrev(hand_logits)(params, X), jacrev(ref_logits)(params, X))
    assert_trees_close(jacfwd(hand_logits)(params, X), jacfwd(ref_logits)(params, X))
    dp = dict(zip(params, tangents(params.values()), strict=True))
    assert_trees_close(
        jvp(lambda p: hand_cost(p, X, Y), (params,), (dp,)), jvp(lambda p: ref_cost(p, X, Y), (params,), (dp,))
    )
    Xs = torch.stack([X, X.flip(0)])  # net(X) on a batch of inputs
    assert_trees_close(vmap(hand_logits, (None, 0))(params, Xs), vmap(ref_logits, (None, 0))(params, Xs))

    # per-sample gradients: vmap over the examples of grad of each one's cost (a batch of one)
    def per_example(cost):
        return vmap(grad(lambda p, x, y: cost(p, x[None], y[None])), (None, 0, 0))(params, X, Y)

    assert_trees_close(per_example(hand_cost), per_example(ref_cost))


def test_value_checks_run_on_the_data_under_transforms():
    net, X, Y = net_and_data("tanh", "sigmoid")
    params = {k: v.detach() for k, v in net.named_parameters()}

    def per_example(X, Y):
        cost = Cost(net)
        p = {f"net.{k}": v for k, v in params.items()}
        return vmap(grad(lambda p, x, y: functional_call(cost, p, (x[None], y[None]))), (None, 0, 0))(p, X, Y)

    X_nan = X.clone()
    X_nan[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        per_example(X_nan, Y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        per_example(X, Y + 1)
    labels = torch.tensor([[0, 1, 1, 0], [0, 1, 2, 1]])  # the second batch has a class 2 of n2 = 2
    with pytest.raises(ValueError, match="class indices"):
        vmap(lambda Y: two_layer_cost(X, Y, *params.values(), output="softmax"))(labels)
    P = torch.full((M, 2), 0.5, dtype=torch.float64)
    with pytest.raises(ValueError, match="summing to 1"):
        vmap(lambda P: two_layer_cost(X, P, *params.values(), output="softmax"))(torch.stack([P, 2 * P]))


@pytest.mark.parametrize("y_dim", [0, 1])
def test_soft_labels_are_checked_row_by_row_under_vmap(y_dim):
    """Per-example gradients with probability targets: each example's row sums to 1, wherever vmap
    puts the batch dimension of the data beneath (the row sums run on the wrapped Y)."""
    g = torch.Generator().manual_seed(5)
    X = torch.randn(6, 3, generator=g, dtype=torch.float64)
    Y = torch.softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), 1)
    W1, *rest = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((5, 3), (5,), (4, 5), (4,)))

    def per_example(cost, Y):
        Y_in = Y if y_dim == 0 else Y.t().contiguous()
        one = lambda W1, x, y: cost(x[None], y[None], W1, *rest, "tanh", "softmax")  # noqa: E731
        return vmap(grad(one), in_dims=(None, 0, y_dim))(W1, X, Y_in)

    torch.testing.assert_close(per_example(two_layer_cost, Y), per_example(reference_cost, Y), rtol=0, atol=1e-12)
    Y_bad = Y.clone()
    Y_bad[2, 0] += 0.5
    with pytest.raises(ValueError, match="summing to 1"):
        per_example(two_layer_cost, Y_bad)
