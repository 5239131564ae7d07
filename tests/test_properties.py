"""Property-based tests: any valid input works and matches autograd; any invalid one is a clean error."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchtwolayer import ACTIVATIONS, HEADS, reference_cost, two_layer, two_layer_cost

dims = st.integers(1, 6)
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("ci")


@st.composite
def problems(draw):
    m, n0, n1 = draw(dims), draw(dims), draw(dims)
    output = draw(st.sampled_from(sorted(HEADS)))
    n2 = draw(st.integers(2, 4)) if output == "softmax" else draw(st.integers(1, 3))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))

    def randn(*shape):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).requires_grad_()

    params = [randn(n1, n0), randn(n1), randn(n2, n1), randn(n2)]
    X = randn(m, n0)
    if output == "softmax":
        Y = torch.randint(0, n2, (m,), generator=gen)
    elif output == "sigmoid":
        Y = torch.rand(m, n2, generator=gen, dtype=torch.float64).round()
    else:
        Y = torch.randn(m, n2, generator=gen, dtype=torch.float64) * scale
    return X, Y, params, draw(st.sampled_from(sorted(ACTIVATIONS))), output


@given(problems())
def test_valid_input_gives_finite_cost_and_autograd_gradients(problem):
    X, Y, params, activation, output = problem
    J = two_layer_cost(X, Y, *params, activation=activation, output=output)
    assert J.shape == () and torch.isfinite(J)
    grads = torch.autograd.grad(J, [X, *params])
    ref = torch.autograd.grad(reference_cost(X, Y, *params, activation, output), [X, *params])
    for g, r, t in zip(grads, ref, [X, *params], strict=True):
        assert g.shape == t.shape and torch.isfinite(g).all()
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-9)


@given(
    st.lists(st.integers(0, 4), min_size=0, max_size=3),
    st.lists(st.integers(0, 4), min_size=0, max_size=3),
    st.sampled_from([torch.float32, torch.float64, torch.int64]),
)
def test_wrong_shapes_or_dtypes_raise_clean_errors(x_shape, w_shape, dtype):
    X = torch.zeros(tuple(x_shape), dtype=dtype)
    W1 = torch.zeros(tuple(w_shape))
    valid = (
        dtype == torch.float32 and len(x_shape) == 2 and x_shape[0] > 0 and len(w_shape) == 2
        and w_shape[1] == x_shape[1]
    )  # fmt: skip
    n1 = w_shape[0] if len(w_shape) == 2 else 1
    try:
        Z2 = two_layer(X, W1, torch.zeros(n1), torch.zeros(1, n1), torch.zeros(1))
    except (ValueError, TypeError) as error:
        assert not valid, error
        assert str(error)  # says what is wrong
    else:
        assert valid and Z2.shape == (x_shape[0], 1)


@given(st.floats(allow_nan=True, allow_infinity=True, width=64), st.integers(1, 5))
def test_sigmoid_targets_outside_0_1_are_rejected(value, m):
    X, Y = torch.zeros(m, 2), torch.full((m,), value, dtype=torch.float64).float()
    params = [torch.zeros(3, 2), torch.zeros(3), torch.zeros(1, 3), torch.zeros(1)]
    if 0 <= Y[0].item() <= 1:
        assert torch.isfinite(two_layer_cost(X, Y, *params))
    else:
        try:
            two_layer_cost(X, Y, *params)
        except ValueError as error:
            assert "[0, 1]" in str(error)
        else:
            raise AssertionError(f"Y = {value} was accepted")
