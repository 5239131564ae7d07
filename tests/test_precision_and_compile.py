"""bf16 autocast on the CPU, Lightning's bf16-mixed, torch.compile(fullgraph=True), and CUDA when present."""

import pytest
import torch
from conftest import ALL_HEADS, make_problem
from helpers import fit, last_checkpoint

from torchtwolayer import TwoLayerNet, reference_cost, two_layer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def net_and_data(output, dtype=torch.float32, device="cpu"):
    n2 = 3 if output == "softmax" else 2
    X, Y, _ = make_problem(64, 6, 16, n2, output, dtype=dtype, x_grad=False)
    net = TwoLayerNet(6, 16, n2, output=output, seed=0, dtype=dtype, device=device)
    return net, X.to(device), Y.to(device)


@pytest.mark.parametrize("output", ALL_HEADS)
def test_bf16_autocast_gives_float32_cost_and_gradients_close_to_float32(output):
    net, X, Y = net_and_data(output)
    J32 = net.cost(X, Y)
    g32 = torch.autograd.grad(J32, list(net.parameters()))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        J = net.cost(X, Y)
        Z2 = net(X)
    assert J.dtype == torch.float32 and Z2.dtype == torch.bfloat16  # the cost in float32, like autocast's losses
    g = torch.autograd.grad(J, list(net.parameters()))
    torch.testing.assert_close(J, J32, rtol=2e-2, atol=2e-2)
    for a, b in zip(g, g32, strict=True):
        assert a.dtype == torch.float32
        assert (a - b).abs().max() <= 3e-2 * b.abs().max() + 1e-3  # bf16 has 8 bits of mantissa


def test_bf16_autocast_backward_matches_autograd_under_autocast():
    net, X, Y = net_and_data("sigmoid")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        J = net.cost(X, Y)
        J_ref = reference_cost(X, Y, *net.parameters())
    for a, b in zip(
        torch.autograd.grad(J, list(net.parameters())), torch.autograd.grad(J_ref, list(net.parameters())), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=2e-2 * b.abs().max().item())


def test_lightning_bf16_mixed_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert fit("--trainer.precision", "bf16-mixed", "--trainer.max_steps", "300") == 0
    assert "Finished after 300 steps" in capsys.readouterr().out
    state = torch.load(last_checkpoint(), weights_only=True)["state_dict"]
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in state.values())


def test_lightning_64_true_trains_in_float64(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert fit("--trainer.precision", "64-true", "--trainer.max_steps", "20", "--data.full_batch_steps", "10") == 0
    assert "Finished after 20 steps" in capsys.readouterr().out
    state = torch.load(last_checkpoint(), weights_only=True)["state_dict"]
    assert all(v.dtype == torch.float64 for k, v in state.items() if k.startswith("net."))


# backend="aot_eager": dynamo traces the module and the Function with fullgraph=True (a graph break
# is an error) and AOTAutograd traces the hand-written backward, which is what this package
# controls. Inductor's C++ code generation would add about 25 s on a cold 2-core machine and
# tests the compiler; scripts/gpu_check.py compiles with the default backend on a GPU.
@pytest.mark.parametrize("output", ALL_HEADS)
def test_compiled_model_has_no_graph_break_and_eager_gradients(output):
    net, X, Y = net_and_data(output)
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    Z_eager, Z_compiled = net(X), compiled(X)
    torch.testing.assert_close(Z_compiled, Z_eager, rtol=1e-6, atol=1e-6)
    v = torch.randn_like(Z_eager)
    g_eager = torch.autograd.grad((v * Z_eager).sum(), list(net.parameters()))
    g_compiled = torch.autograd.grad((v * Z_compiled).sum(), list(net.parameters()))
    for a, b in zip(g_compiled, g_eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    J_eager = net.cost(X, Y)
    J_compiled = torch.compile(net.cost, fullgraph=True, backend="aot_eager")(X, Y)
    torch.testing.assert_close(J_compiled, J_eager, rtol=1e-6, atol=1e-6)
    for a, b in zip(
        torch.autograd.grad(J_compiled, list(net.parameters())),
        torch.autograd.grad(J_eager, list(net.parameters())),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@cuda
@pytest.mark.parametrize("output", ALL_HEADS)
def test_cuda_gradients_match_autograd_in_float64(output):
    net, X, Y = net_and_data(output, torch.float64, "cuda")
    J, J_ref = net.cost(X, Y), reference_cost(X, Y, *net.parameters(), output=output)
    for a, b in zip(
        torch.autograd.grad(J, list(net.parameters())), torch.autograd.grad(J_ref, list(net.parameters())), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    assert torch.autograd.gradcheck(lambda *p: two_layer(X, *p), tuple(net.parameters()))


@cuda
def test_cuda_fit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fit("--trainer.accelerator", "gpu", "--trainer.devices", "1", "--trainer.max_steps", "200") == 0
