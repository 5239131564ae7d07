"""The README's plain-PyTorch loop, alone in a process: seconds per step
(``python -m scripts.benchmark.readme_step STEPS``, one JSON line)."""

from __future__ import annotations

import time

import torch

from torchtwolayer import TwoLayerNet

from .common import child_main


def measure(steps: str) -> dict:
    n = int(steps)
    X = torch.randn(400, 2)
    Y = (X[:, 0] * X[:, 1] > 0).float()
    net = TwoLayerNet(n0=2, n1=8, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)

    def step() -> None:
        opt.zero_grad()
        net.cost(X, Y).backward()
        opt.step()

    for _ in range(50):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    return {"seconds_per_step": (time.perf_counter() - t) / n}


if __name__ == "__main__":
    child_main(measure)
