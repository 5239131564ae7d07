import contextlib
import io
import os
from pathlib import Path

import pytest
import torch

from torchtwolayer import ACTIVATIONS, HEADS

ALL_ACTIVATIONS = list(ACTIVATIONS)
ALL_HEADS = list(HEADS)


def make_problem(m, n0, n1, n2, output, dtype=torch.float64, seed=0, x_grad=True):
    """Random X, a valid Y for ``output`` and [W1, b1, W2, b2], all leaves requiring grad."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    X = randn(m, n0).requires_grad_(x_grad)
    params = [randn(n1, n0), randn(n1), randn(n2, n1), randn(n2)]
    params = [p.requires_grad_() for p in params]
    if output == "softmax":
        Y = torch.randint(0, n2, (m,), generator=gen)
    elif output == "sigmoid":
        Y = torch.rand(m, n2, generator=gen, dtype=dtype)
    else:
        Y = randn(m, n2)
    return X, Y, params


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> tuple[Path, str]:
    """``torchtwolayer fit`` with no arguments, run once for the whole session: its folder and output."""
    from torchtwolayer.commands import main

    folder = tmp_path_factory.mktemp("default_fit")
    out, cwd = io.StringIO(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert main(["fit"]) == 0
    finally:
        os.chdir(cwd)
    return folder, out.getvalue()


@pytest.fixture
def backward_calls(monkeypatch) -> list[int]:
    """One entry per call of the note's hand-written backward (``TwoLayerCost.backward``)."""
    from torchtwolayer.core.function import TwoLayerCost

    calls: list[int] = []
    backward = TwoLayerCost.backward

    def counted(ctx, *grads):
        calls.append(1)
        return backward(ctx, *grads)

    monkeypatch.setattr(TwoLayerCost, "backward", staticmethod(counted))
    return calls
