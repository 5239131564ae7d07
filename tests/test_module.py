import numpy as np
import pytest
import torch

from torchtwolayer import INITS, TwoLayerNet, reference_logits


def test_parameters_have_the_notes_names_and_nn_linear_shapes():
    net = TwoLayerNet(3, 5, 2)
    assert {k: tuple(v.shape) for k, v in net.named_parameters()} == {
        "W1": (5, 3),
        "b1": (5,),
        "W2": (2, 5),
        "b2": (2,),
    }
    linear = torch.nn.Linear(3, 5)
    assert linear.weight.shape == net.W1.shape and linear.bias.shape == net.b1.shape


def test_repr_names_the_settings():
    net = TwoLayerNet(2, 4, activation="relu", output="identity", init="kaiming")
    assert "n0=2, n1=4, n2=1, activation='relu', output='identity', init='kaiming'" in repr(net)


def test_course_init_is_small_normal_weights_and_zero_biases():
    net = TwoLayerNet(50, 200, 3, init="course", seed=0)
    assert net.W1.std().item() == pytest.approx(0.01, rel=0.05)
    assert net.b1.abs().max() == 0 and net.b2.abs().max() == 0


@pytest.mark.parametrize("init", INITS)
def test_seed_and_generator_make_init_reproducible(init):
    a = TwoLayerNet(4, 6, 2, init=init, seed=7)
    b = TwoLayerNet(4, 6, 2, init=init, generator=torch.Generator().manual_seed(7))
    c = TwoLayerNet(4, 6, 2, init=init, seed=8)
    for p, q, _r in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a.W1, c.W1)


def test_xavier_bound():
    net = TwoLayerNet(30, 20, init="xavier", seed=0)
    bound = 5 / 3 * (6 / (30 + 20)) ** 0.5  # tanh gain 5/3
    assert net.W1.abs().max().item() <= bound
    assert net.W1.abs().max().item() > 0.9 * bound


def test_forward_returns_logits_equal_to_the_reference():
    net = TwoLayerNet(3, 4, 2, activation="sigmoid", seed=0, dtype=torch.float64)
    X = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(net(X), reference_logits(X, *net.parameters(), activation="sigmoid"))


def test_predict_proba_and_predict_for_each_head():
    X = torch.randn(6, 3)
    binary = TwoLayerNet(3, 4, seed=0)
    p = binary.predict_proba(X)
    assert p.shape == (6, 1) and ((p > 0) & (p < 1)).all()
    assert torch.equal(binary.predict(X), (p[:, 0] > 0.5).long())
    multi = TwoLayerNet(3, 4, 3, output="softmax", seed=0)
    torch.testing.assert_close(multi.predict_proba(X).sum(1), torch.ones(6))
    assert torch.equal(multi.predict(X), multi.predict_proba(X).argmax(1))
    reg = TwoLayerNet(3, 4, output="identity", seed=0)
    assert reg.predict(X).shape == (6,)
    multi_label = TwoLayerNet(3, 4, 2, seed=0)
    assert multi_label.predict(X).shape == (6, 2)


def test_predict_accepts_numpy_arrays():
    net = TwoLayerNet(2, 3, seed=0)
    X = np.random.default_rng(0).normal(size=(4, 2))
    assert torch.equal(net.predict(X), net.predict(torch.as_tensor(X, dtype=torch.float32)))


def test_trains_xor_in_a_plain_pytorch_loop():
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    net = TwoLayerNet(2, 4, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    for _ in range(2000):
        opt.zero_grad()
        net.cost(X, Y).backward()
        opt.step()
    assert torch.equal(net.predict(X), Y.long())


def test_logits_work_with_any_pytorch_loss():
    net = TwoLayerNet(3, 4, 3, output="softmax", seed=0, dtype=torch.float64)
    X, y = torch.randn(8, 3, dtype=torch.float64), torch.randint(0, 3, (8,))
    loss = torch.nn.functional.cross_entropy(net(X), y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    ref = torch.autograd.grad(net.cost(X, y), list(net.parameters()))
    for g, r in zip(grads, ref, strict=True):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)


def test_module_moves_and_casts_like_any_module():
    net = TwoLayerNet(2, 3).double()
    assert net.W1.dtype == torch.float64
    assert net.cost(torch.randn(4, 2, dtype=torch.float64), torch.ones(4, dtype=torch.float64)).dtype == torch.float64
    assert set(net.state_dict()) == {"W1", "b1", "W2", "b2"}


def test_values_are_checked_once_per_tensor_and_again_after_an_in_place_change():
    net = TwoLayerNet(2, 3, seed=0)
    X, Y = torch.randn(5, 2), torch.ones(5)
    net.cost(X, Y)
    Y[0] = 7.0  # in place: the version counter moves, so the check runs again
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        net.cost(X, Y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):  # a failed check is not remembered
        net.cost(X, Y)
    X[1, 1] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        net(X)


def test_a_network_that_has_seen_data_pickles_and_saves(tmp_path):
    import pickle

    net = TwoLayerNet(2, 3, seed=0)
    X = torch.randn(5, 2)
    net.cost(X, torch.ones(5))
    again = pickle.loads(pickle.dumps(net))
    torch.save(net, tmp_path / "net.pt")
    for other in (again, torch.load(tmp_path / "net.pt", weights_only=False)):
        assert torch.equal(other(X), net(X))


def test_importing_the_package_loads_no_heavy_or_optional_library():
    import subprocess
    import sys

    heavy = ["lightning", "matplotlib", "pyarrow", "onnx", "onnxscript", "onnxruntime", "sklearn", "opacus", "pandas"]
    code = f"import sys, torchtwolayer; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
