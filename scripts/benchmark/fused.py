"""``GradientDescent`` against its kernels: seconds per step of the fused mini-batch SGD, against the
same step's gather and matrix products alone (two ``index_select`` and five products into
preallocated buffers), n0 = 32, n1 = 64, float32, on the thread count the step runs on."""

from __future__ import annotations

import torch

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.core.threads import step_work, threads_for

from .common import goal_row, median_times, tabular_data
from .function import package_threads

GOALS = {64: "≤ 1.5", 256: "≤ 1.15", 1024: "≤ 1.15"}
N0, N1 = 32, 64


def bench_batch(X: torch.Tensor, Y: torch.Tensor, B: int, reps: int) -> dict:
    m = X.shape[0]
    net = TwoLayerNet(N0, N1, seed=0)
    gd = GradientDescent(net, X, Y, lr=0.01, batch_size=B, check_divergence=False)
    idx = torch.randperm(m, generator=torch.Generator().manual_seed(0))[:B]
    Xb, Yb = torch.empty(B, N0), torch.empty(B)
    A1, Z2, dZ2, dZ1 = torch.randn(N1, B), torch.randn(1, B), torch.randn(1, B), torch.randn(N1, B)
    dW1, dW2 = torch.empty(N1, N0), torch.empty(1, N1)
    W1, b1, W2, b2 = (p.detach() for p in net.parameters())

    def kernels() -> None:
        torch.index_select(X, 0, idx, out=Xb)
        torch.index_select(Y, 0, idx, out=Yb)
        torch.addmm(b1[:, None], W1, Xb.t(), out=A1)  # Z1
        torch.addmm(b2[:, None], W2, A1, out=Z2)  # Z2
        torch.mm(dZ2, A1.t(), out=dW2)
        torch.mm(W2.t(), dZ2, out=dZ1)
        torch.mm(dZ1, Xb, out=dW1)

    steps = gd.steps_per_epoch  # a whole epoch per timing: its one gather at the start included
    with torch.no_grad(), threads_for(step_work(B, N0, N1, 1)):
        t = median_times({"fused": lambda: gd.run(steps), "kernels": lambda: [kernels() for _ in range(steps)]},
                         reps, 1)  # fmt: skip
    threads = str(package_threads(B, N0, N1))
    return goal_row(f"GradientDescent step / its gather and products, batch {B} ({N0}→{N1}→1, float32)",
                    t["fused"] / steps * 1e6, t["kernels"] / steps * 1e6, GOALS[B], "us", threads=threads)  # fmt: skip


def bench_fused(quick: bool, reps: int) -> list[dict]:
    X, Y = tabular_data(4096 if quick else 65_536, N0)
    return [bench_batch(X, Y, B, reps) for B in GOALS]
