"""``GradientDescent`` against its kernels: seconds per step of the fused mini-batch SGD, against the
same step's gather and matrix products alone, n0 = 32, n1 = 64, float32, on the thread count the step
runs on.

The reference is the step's gather and products into preallocated buffers, timed in two forms, the
faster of which counts: the step's own layout (``own_form_us``: the gather of [X | 1] and Y,
Z1 = [W1 | b1] [X | 1]ᵀ, Z2 = [W2 | b2] [A1; 1], W2ᵀ dZ2 and the gradients dZ2 [A1; 1]ᵀ, dZ1 [X | 1]),
and the first form (``first_form_us``: X alone gathered, ``addmm`` with the bias broadcast, the
gradients of W alone), so that a change of layout cannot make the reference slower. Both gather per
step (the step gathers an epoch at once), each step its own rows of the epoch's order: the same rows
again would stay in the cache. What the step adds is elementwise (tanh, its derivative, the sigmoid,
A2 − Y) and Python. Beside the ratio, each row gives the unavoidable part of that: tanh of the B × 64
values and its derivative, each timed alone with the step's own kernels, and ``floor`` = (reference +
both) / reference, the best ratio a step that computes tanh and its derivative could reach.
"""

from __future__ import annotations

import torch

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.core import compat
from torchtwolayer.core.activations import get_activation
from torchtwolayer.core.threads import step_work, threads_for

from .common import goal_row, median_times, tabular_data
from .function import package_threads

GOALS = {64: "≤ 1.5", 256: "≤ 1.15", 1024: "≤ 1.15"}
N0, N1 = 32, 64


def bench_batch(X: torch.Tensor, Y: torch.Tensor, B: int, reps: int) -> dict:
    m = X.shape[0]
    net = TwoLayerNet(N0, N1, seed=0)
    gd = GradientDescent(net, X, Y, lr=0.01, batch_size=B, check_divergence=False)
    steps = gd.steps_per_epoch  # a whole epoch per timing: the step's one gather at its start included
    batches = gd.epoch_order(0)[: steps * B].split(B)  # each step its own rows, as the step: none hot in cache
    W1, b1, W2, b2 = (p.detach() for p in net.parameters())
    X1 = torch.cat([X, X.new_ones(m, 1)], 1)  # (m, n0 + 1): the rows and a ones column
    P1, P2 = torch.cat([W1, b1[:, None]], 1), torch.cat([W2, b2[:, None]], 1)  # [W1 | b1], [W2 | b2]
    Xb, Xb1, Yb = torch.empty(B, N0), torch.empty(B, N0 + 1), torch.empty(B)
    A1 = torch.cat([torch.randn(N1, B), torch.ones(1, B)])  # [A1; 1]
    Z2, dZ2, dZ1 = torch.empty(1, B), torch.randn(1, B), torch.empty(N1, B)
    G1, G2, dW1, dW2 = torch.empty_like(P1), torch.empty_like(P2), torch.empty(N1, N0), torch.empty(1, N1)

    def kernels(idx: torch.Tensor) -> None:  # the step's gather and products
        torch.index_select(X1, 0, idx, out=Xb1)
        torch.index_select(Y, 0, idx, out=Yb)
        torch.mm(P1, Xb1.t(), out=A1[:-1])  # Z1 = [W1 | b1] [X | 1]ᵀ
        torch.mm(P2, A1, out=Z2)  # Z2 = [W2 | b2] [A1; 1]
        torch.mm(P2[:, :N1].t(), dZ2, out=dZ1)  # W2ᵀ dZ2
        torch.mm(dZ2, A1.t(), out=G2)  # [dW2 | db2]
        torch.mm(dZ1, Xb1, out=G1)  # [dW1 | db1]

    def first_kernels(idx: torch.Tensor) -> None:  # the first form: the bias broadcast, X without ones
        torch.index_select(X, 0, idx, out=Xb)
        torch.index_select(Y, 0, idx, out=Yb)
        torch.addmm(b1[:, None], W1, Xb.t(), out=A1[:-1])
        torch.addmm(b2[:, None], W2, A1[:-1], out=Z2)
        torch.mm(dZ2, A1[:-1].t(), out=dW2)
        torch.mm(W2.t(), dZ2, out=dZ1)
        torch.mm(dZ1, Xb, out=dW1)

    g = get_activation("tanh")
    Z1, dA1 = torch.randn(N1, B), torch.randn(N1, B)
    A, out = torch.tanh(torch.randn(N1, B)), torch.empty(N1, B)
    derivative = compat.out_overload(g.backward_op, "grad_input")

    fns = {
        "fused": lambda: gd.run(steps),
        "kernels": lambda: [kernels(idx) for idx in batches],
        "first": lambda: [first_kernels(idx) for idx in batches],
        "tanh": lambda: [g.forward_(Z1) for _ in range(steps)],  # in place, as the step
        "derivative": lambda: [derivative(dA1, A, grad_input=out) for _ in range(steps)],
    }
    with torch.no_grad(), threads_for(step_work(B, N0, N1, 1)):
        t = {k: v / steps * 1e6 for k, v in median_times(fns, reps, 1).items()}
    threads = str(package_threads(B, N0, N1))
    reference = min(t["kernels"], t["first"])
    floor = (reference + t["tanh"] + t["derivative"]) / reference
    row = goal_row(f"GradientDescent step / its gather and products, batch {B} ({N0}→{N1}→1, float32)",
                   t["fused"], reference, GOALS[B], "us", threads=threads)  # fmt: skip
    return row | {"own_form_us": t["kernels"], "first_form_us": t["first"], "tanh_us": t["tanh"],
                  "derivative_us": t["derivative"], "floor": floor}  # fmt: skip


def bench_fused(quick: bool, reps: int) -> list[dict]:
    X, Y = tabular_data(4096 if quick else 65_536, N0)
    return [bench_batch(X, Y, B, reps) for B in GOALS]
