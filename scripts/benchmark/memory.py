"""Peak RSS of training steps at the large size, each variant in its own process
(:mod:`.memory_child`), and the bytes saved for backward (``saved_tensors_hooks``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from torchtwolayer import TwoLayerNet

from .common import autograd_model, binary_problem, run_child


def saved_storages(loss_fn: Callable[[], torch.Tensor]) -> dict[int, int]:
    """``{storage address: bytes}`` of the distinct storages saved for backward by one forward pass."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn()
    return seen


def bench_memory(size: tuple[int, int, int], fresh_process: bool = True) -> list[dict]:
    """Each variant's peak in its own process (``fresh_process=False``, for --quick: in this one,
    where the peak also holds what ran before: it checks the script runs, not the figure)."""
    rows = []
    m, n0, n1 = size
    X, Y = binary_problem(m, n0)
    for variant in ("ours", "autograd"):
        child = run_child("memory_child", variant, *map(str, size), fresh_process=fresh_process)
        peak_kib, base_kib = child["peak_kib"], child["before_kib"]  # the step's peak, and RSS before it
        if variant == "ours":
            net = TwoLayerNet(n0, n1, init="pytorch", seed=0)
            params = list(net.parameters())
            saved = saved_storages(lambda net=net: net.cost(X, Y))
        else:
            ref, bce = autograd_model(n0, n1), nn.BCEWithLogitsLoss()
            params = list(ref.parameters())
            saved = saved_storages(lambda ref=ref, bce=bce: bce(ref(X), Y[:, None]))
        inputs = {t.untyped_storage().data_ptr() for t in [X, Y, *params]}
        activations = sum(b for ptr, b in saved.items() if ptr not in inputs)
        rows.append(
            {
                "variant": variant,
                "step_peak_rss_mib": peak_kib / 1024,
                "step_peak_above_start_mib": (peak_kib - base_kib) / 1024,
                "saved_for_backward_mib": sum(saved.values()) / 2**20,
                "saved_beyond_inputs_mib": activations / 2**20,
            }
        )
    return rows
