"""One step of gradient descent written out with the note's equations, in numpy, examples as columns."""

import numpy as np
import pytest
import torch

from torchtwolayer import TwoLayerNet, two_layer_cost


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def note_step(X, Y, W1, b1, W2, b2, alpha):
    """The note verbatim: X (n0, m), Y (1, m), b as columns (n, 1)."""
    m = X.shape[1]
    Z1 = W1 @ X + b1
    A1 = np.tanh(Z1)
    Z2 = W2 @ A1 + b2
    A2 = sigmoid(Z2)
    J = -np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    dZ2 = A2 - Y
    dW2 = (1 / m) * dZ2 @ A1.T
    db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = (W2.T @ dZ2) * (1 - A1**2)
    dW1 = (1 / m) * dZ1 @ X.T
    db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
    grads = dict(W1=dW1, b1=db1, W2=dW2, b2=db2)
    new = {k: p - alpha * grads[k] for k, p in dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
    return J, grads, new


@pytest.mark.parametrize("m,n0,n1", [(1, 1, 1), (400, 2, 4), (17, 5, 3)])
def test_one_gradient_descent_step_equals_the_note(m, n0, n1):
    rng = np.random.default_rng(m)
    X = rng.normal(size=(n0, m))
    Y = (rng.random((1, m)) > 0.5).astype(float)
    W1, b1 = rng.normal(size=(n1, n0)), rng.normal(size=(n1, 1))
    W2, b2 = rng.normal(size=(1, n1)), rng.normal(size=(1, 1))
    alpha = 1.2
    J_note, grads_note, new_note = note_step(X, Y, W1, b1, W2, b2, alpha)

    net = TwoLayerNet(n0, n1, 1, dtype=torch.float64)
    with torch.no_grad():
        net.W1.copy_(torch.from_numpy(W1))
        net.b1.copy_(torch.from_numpy(b1[:, 0]))
        net.W2.copy_(torch.from_numpy(W2))
        net.b2.copy_(torch.from_numpy(b2[:, 0]))
    X_t, Y_t = torch.from_numpy(X.T), torch.from_numpy(Y[0])  # batch first
    J = net.cost(X_t, Y_t)
    J.backward()
    assert J.item() == pytest.approx(J_note, rel=1e-12)
    for name in ("W1", "b1", "W2", "b2"):
        grad = getattr(net, name).grad.numpy()
        np.testing.assert_allclose(grad, grads_note[name].reshape(grad.shape), rtol=1e-10, atol=1e-13)

    torch.optim.SGD(net.parameters(), lr=alpha).step()
    for name in ("W1", "b1", "W2", "b2"):
        value = getattr(net, name).detach().numpy()
        np.testing.assert_allclose(value, new_note[name].reshape(value.shape), rtol=1e-12, atol=1e-14)


def test_db2_is_the_mean_of_A2_minus_Y():
    X = torch.randn(10, 3, dtype=torch.float64)
    Y = (torch.rand(10) > 0.5).double()
    W1, b1 = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    W2 = torch.randn(1, 4, dtype=torch.float64)
    b2 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    two_layer_cost(X, Y, W1, b1, W2, b2).backward()
    A2 = torch.sigmoid(torch.tanh(X @ W1.T + b1) @ W2.T + b2)
    torch.testing.assert_close(b2.grad, (A2[:, 0] - Y).mean().reshape(1).detach(), rtol=0, atol=1e-14)
