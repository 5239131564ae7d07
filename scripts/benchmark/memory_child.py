"""One variant's training steps, alone in a process: its peak RSS (``python -m scripts.benchmark.memory_child
ours|autograd m n0 n1``, one JSON line)."""

from __future__ import annotations

import torch
import torch.nn as nn

from torchtwolayer import TwoLayerNet

from .common import autograd_model, child_main, reset_peak, rss_kib


def measure(variant: str, m: str, n0: str, n1: str) -> dict:
    m_, n0_, n1_ = int(m), int(n0), int(n1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(m_, n0_, generator=g)
    Y = (X[:, 0] > 0).float()
    if variant == "ours":
        net = TwoLayerNet(n0_, n1_, init="pytorch", seed=0)
        loss = lambda: net.cost(X, Y)  # noqa: E731
    else:
        net, bce = autograd_model(n0_, n1_), nn.BCEWithLogitsLoss()
        loss = lambda: bce(net(X), Y[:, None])  # noqa: E731
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    opt.zero_grad()
    loss().backward()
    opt.step()  # warm up: allocator, kernels
    opt.zero_grad(set_to_none=True)
    reset_peak()
    before = rss_kib("VmRSS:")
    for _ in range(3):
        opt.zero_grad()
        loss().backward()
        opt.step()
    return {"peak_kib": rss_kib("VmHWM:"), "before_kib": before}


if __name__ == "__main__":
    child_main(measure)
