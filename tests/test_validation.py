"""Bad input to the Functions and the module: a TypeError/ValueError that names the problem."""

import pytest
import torch

from torchtwolayer import TwoLayerNet, two_layer, two_layer_cost


def good(n2=1, dtype=torch.float32):
    X = torch.randn(5, 3, dtype=dtype)
    return X, [
        torch.randn(4, 3, dtype=dtype),
        torch.zeros(4, dtype=dtype),
        torch.randn(n2, 4, dtype=dtype),
        torch.zeros(n2, dtype=dtype),
    ]


def call_cost(X=None, Y=None, params=None, **kw):
    X0, p0 = good(n2=kw.pop("n2", 1))
    X = X0 if X is None else X
    Y = torch.ones(5) if Y is None else Y
    return two_layer_cost(X, Y, *(p0 if params is None else params), **kw)


X0, P0 = good()
X3, P3 = good(n2=3)

BAD = [
    # (id, thunk, error type, phrase in the message)
    ("X not a tensor", lambda: two_layer([[1.0, 2.0, 3.0]], *P0), TypeError, "torch.Tensor"),
    ("X integer", lambda: two_layer(torch.ones(5, 3, dtype=torch.long), *P0), TypeError, "floating-point"),
    ("X 1-D", lambda: two_layer(torch.ones(3), *P0), ValueError, "X.reshape(1, -1)"),
    ("X 3-D", lambda: two_layer(torch.ones(2, 5, 3), *P0), ValueError, "2-D"),
    ("X no rows", lambda: two_layer(torch.ones(0, 3), *P0), ValueError, "no rows"),
    ("X wrong features", lambda: two_layer(torch.ones(5, 2), *P0), ValueError, "expects n0 = 3"),
    ("W1 1-D", lambda: two_layer(X0, torch.ones(3), *P0[1:]), ValueError, "W1 must have shape"),
    ("b1 wrong", lambda: two_layer(X0, P0[0], torch.ones(5), *P0[2:]), ValueError, "b1 must have shape"),
    ("W2 wrong", lambda: two_layer(X0, *P0[:2], torch.ones(1, 5), P0[3]), ValueError, "W2 must have shape"),
    ("b2 wrong", lambda: two_layer(X0, *P0[:3], torch.ones(2)), ValueError, "b2 must have shape"),
    ("dtype mismatch", lambda: two_layer(X0.double(), *P0), TypeError, "dtype"),
    ("unknown activation", lambda: two_layer(X0, *P0, activation="gelu"), ValueError, "expected one of"),
    ("unknown head", lambda: call_cost(output="logistic"), ValueError, "unknown output head"),
    ("Y not a tensor", lambda: call_cost(Y=[1, 0, 1, 0, 1]), TypeError, "torch.Tensor"),
    ("Y wrong length", lambda: call_cost(Y=torch.ones(4)), ValueError, "(5, 1)"),
    ("Y out of [0,1]", lambda: call_cost(Y=torch.full((5,), 2.0)), ValueError, "[0, 1]"),
    ("Y float64 for float32 X", lambda: call_cost(Y=torch.ones(5, dtype=torch.float64)), TypeError, "Y.to"),
    ("Y complex", lambda: call_cost(Y=torch.ones(5, dtype=torch.complex64)), TypeError, "real"),
    (
        "softmax with n2=1",
        lambda: call_cost(Y=torch.zeros(5, dtype=torch.long), output="softmax"),
        ValueError,
        "n2 >= 2",
    ),
    (
        "label out of range",
        lambda: call_cost(Y=torch.tensor([0, 1, 2, 3, 0]), params=P3, output="softmax"),
        ValueError,
        "[0, 2]",
    ),
    (
        "negative label",
        lambda: call_cost(Y=torch.tensor([0, -1, 2, 1, 0]), params=P3, output="softmax"),
        ValueError,
        "[0, 2]",
    ),
    (
        "labels 2-D ints",
        lambda: call_cost(Y=torch.zeros(5, 3, dtype=torch.long), params=P3, output="softmax"),
        TypeError,
        "class indices",
    ),
    (
        "probabilities not summing to 1",
        lambda: call_cost(Y=torch.ones(5, 3), params=P3, output="softmax"),
        ValueError,
        "summing to 1",
    ),
    (
        "regression Y wrong shape",
        lambda: call_cost(Y=torch.ones(5, 2), output="identity"),
        ValueError,
        "(5, 1)",
    ),
    ("n1 zero", lambda: TwoLayerNet(2, 0), ValueError, "n1 must be a positive integer"),
    ("n0 float", lambda: TwoLayerNet(2.5, 3), ValueError, "n0 must be a positive integer"),
    ("softmax module n2=1", lambda: TwoLayerNet(2, 3, output="softmax"), ValueError, "n2 >= 2"),
    ("unknown init", lambda: TwoLayerNet(2, 3, init="zeros"), ValueError, "unknown init"),
    ("module wrong features", lambda: TwoLayerNet(2, 3)(torch.ones(4, 3)), ValueError, "n0 = 2"),
    (
        "predict NaN",
        lambda: TwoLayerNet(2, 3).predict(torch.tensor([[float("nan"), 0.0]])),
        ValueError,
        "NaN",
    ),
]


@pytest.mark.parametrize("thunk,error,phrase", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_a_clear_error(thunk, error, phrase):
    with pytest.raises(error, match=None) as info:
        thunk()
    assert phrase in str(info.value)


def test_integer_binary_labels_are_accepted_for_the_sigmoid_head():
    X, params = good()
    J_int = two_layer_cost(X, torch.tensor([1, 0, 1, 0, 1]), *params)
    J_float = two_layer_cost(X, torch.tensor([1.0, 0, 1, 0, 1]), *params)
    assert torch.equal(J_int, J_float)


# ---- value checks after the fact (torchtwolayer.core.values) ---------------------------------
def test_an_inf_that_a_saturated_tanh_hides_from_the_cost_is_still_named():
    net = TwoLayerNet(3, 4, seed=0)
    X = torch.randn(5, 3)
    X[2, 1] = float("inf")  # tanh(±inf) = ±1: Z2 and J stay finite
    with torch.no_grad():
        net.W1.fill_(0.5)  # one sign: no inf − inf in Z1
        assert torch.isfinite(net.W2 @ torch.tanh(net.W1 @ X.T + net.b1[:, None]) + net.b2[:, None]).all()
    for call in (lambda: net(X), lambda: net.cost(X, torch.ones(5)), lambda: net.cost_and_logits(X, torch.ones(5))):
        with pytest.raises(ValueError, match="X contains NaN or infinite values"):
            call()


def test_class_indices_out_of_range_are_named_though_the_cost_is_finite():
    net = TwoLayerNet(3, 4, n2=3, output="softmax", seed=0)
    with pytest.raises(ValueError, match=r"class indices Y must lie in \[0, 2\]"):
        net.cost(torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 0]))


def test_non_finite_weights_are_left_to_the_trainers_divergence_rule():
    """A NaN weight makes J NaN; the data is clean, so no error names it: J tells the trainer."""
    net = TwoLayerNet(3, 4, seed=0)
    with torch.no_grad():
        net.W2[0, 0] = float("nan")
    assert torch.isnan(net.cost(torch.randn(5, 3), torch.ones(5)))
