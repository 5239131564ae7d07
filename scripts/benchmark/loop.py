"""A user's own loop: 200 000 × 32 rows, 64 tanh units, a new batch tensor each step (``X[idx]``, what
a ``DataLoader`` gives), plain SGD. Samples per second of ``net.cost(Xb, Yb).backward()`` and of
``binary_cross_entropy_with_logits(net(Xb), Yb)`` against ``nn.Sequential(Linear, Tanh, Linear)`` with
the same loss, at batch 64, 256 and 1024; on torch's default thread count (the package's rule then
picks its own: the ``threads`` column gives ours / autograd's) and with ``torch.set_num_threads(1)``
for both."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from torchtwolayer import TwoLayerNet
from torchtwolayer.core.batches import epoch_order

from .common import autograd_model, goal_row, median_times, num_threads, tabular_data
from .function import package_threads

BATCHES = (64, 256, 1024)
GOAL = "≥ 1.00"
N1 = 64


def make_loops(X: torch.Tensor, Y: torch.Tensor, batch: int, steps: int) -> dict:
    """Each variant as a function running ``steps`` steps on fresh batches in one fixed order."""
    order = epoch_order(X.shape[0], 0)
    starts = [(i * batch) % (X.shape[0] - batch) for i in range(steps)]
    net_cost, net_loss = TwoLayerNet(X.shape[1], N1, seed=0), TwoLayerNet(X.shape[1], N1, seed=0)
    seq = autograd_model(X.shape[1], N1)
    loops = {}
    for name, model, loss in (
        ("net.cost", net_cost, lambda Xb, Yb: net_cost.cost(Xb, Yb)),
        ("loss(net(X), Y)", net_loss, lambda Xb, Yb: F.binary_cross_entropy_with_logits(net_loss(Xb)[:, 0], Yb)),
        ("autograd", seq, lambda Xb, Yb: F.binary_cross_entropy_with_logits(seq(Xb)[:, 0], Yb)),
    ):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def run(loss=loss, opt=opt) -> None:
            for s in starts:
                idx = order[s : s + batch]
                Xb, Yb = X[idx], Y[idx]  # new tensors, as a DataLoader gives
                opt.zero_grad()
                loss(Xb, Yb).backward()
                opt.step()

        loops[name] = run
    return loops


def bench_loop(quick: bool, reps: int) -> list[dict]:
    X, Y = tabular_data(2_000 if quick else 200_000)
    rows = []
    for threads in (torch.get_num_threads(), 1):
        label = "1 thread" if threads == 1 else f"default threads ({threads})"
        for batch in BATCHES:
            steps = 5 if quick else max(20, 40_000 // batch)
            with num_threads(threads):
                t = median_times(make_loops(X, Y, batch, steps), reps, 1)
                ours_threads = package_threads(batch, X.shape[1], N1)  # the package's rule, inside the block
            rate = {k: batch * steps / t.paired(k, "autograd") for k in t}  # samples per second, paired
            for name in ("net.cost", "loss(net(X), Y)"):
                measure = f"{name} loop / autograd loop, samples/s, batch {batch}, {label}"
                rows.append(goal_row(measure, rate[name], rate["autograd"], GOAL, "samples_per_s",
                                     threads=f"{ours_threads} / {threads}"))  # fmt: skip
    return rows
