"""The Function step: cost, backward and SGD update through ``TwoLayerNet.cost``, against the same step
through autograd (``nn.Linear``, ``tanh``, ``nn.Linear``, ``binary_cross_entropy_with_logits``), both
on the same thread count: the one the package's rule picks for this size (one thread below
:data:`~torchtwolayer.core.threads.CALL_WORK_PER_THREAD` multiply-adds, torch's count above), so that the
rule is not what wins. Each step takes a new batch tensor (a pool of distinct copies, cycled), as a
user's loop does. At the large size, also against the floor: the step's two big matrix products. An
information row gives the Function alone (the same step without the module's argument and value
checks): what the checks cost, and the floor of a Python ``autograd.Function`` against autograd's C++."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from torchtwolayer import TwoLayerNet
from torchtwolayer.core.activations import ACTIVATIONS
from torchtwolayer.core.function import _TwoLayerCostEager
from torchtwolayer.core.heads import HEADS
from torchtwolayer.core.threads import CALL_WORK_PER_THREAD, step_work, user_chose_threads

from .common import autograd_model, binary_problem, goal_row, info_row, median_times, num_threads

SIZES = {"tiny": (400, 2, 4), "medium": (256, 784, 256), "large": (4096, 1024, 1024)}
QUICK_SIZES = {"tiny": (400, 2, 4), "medium": (64, 32, 16), "large": (256, 64, 64)}
GOALS = {"tiny": "≤ 1.05", "medium": "≤ 1.00", "large": "≤ 0.97"}
FLOOR_GOAL = "≤ 1.10"
POOL = 8  # distinct batch tensors per side, cycled: no step sees the tensor of the step before


def package_threads(m: int, n0: int, n1: int) -> int:
    """The thread count the package's rule runs this step on."""
    small = step_work(m, n0, n1, 1) < CALL_WORK_PER_THREAD and not user_chose_threads()
    return 1 if small else torch.get_num_threads()


def bench_size(name: str, m: int, n0: int, n1: int, reps: int, device: str, max_inner: int) -> list[dict]:
    X, Y = binary_problem(m, n0, device=device)
    batches = itertools.cycle([(X.clone(), Y.clone()) for _ in range(POOL)])
    ours = TwoLayerNet(n0, n1, init="pytorch", seed=0, device=device)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.01)
    ref = autograd_model(n0, n1).to(device)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.01)

    def step_ours() -> None:
        Xb, Yb = next(batches)
        opt_ours.zero_grad()
        ours.cost(Xb, Yb).backward()
        opt_ours.step()

    def step_autograd() -> None:
        Xb, Yb = next(batches)
        opt_ref.zero_grad()
        F.binary_cross_entropy_with_logits(ref(Xb), Yb[:, None]).backward()
        opt_ref.step()

    W = (ours.W1, ours.b1, ours.W2, ours.b2)
    g, head = ACTIVATIONS["tanh"], HEADS["sigmoid"]

    def step_function_alone() -> None:  # the same Function, without the module's argument and value checks
        Xb, Yb = next(batches)
        opt_ours.zero_grad()
        _TwoLayerCostEager.apply(Xb, Yb[:, None], *W, g, head)[0].backward()
        opt_ours.step()

    fns = {"ours": step_ours, "autograd": step_autograd, "function alone": step_function_alone}
    dZ1, W1 = torch.randn(m, n1, device=device), ours.W1.detach()
    if name == "large":  # the floor: Z1 = X W1ᵀ and dW1 = dZ1ᵀ X, the step's two big products
        fns["floor"] = lambda: (torch.mm(X, W1.t()), torch.mm(dZ1.t(), X))
    inner = max(3, min(max_inner, int(3e8 / (m * n0 * n1 * 6 + 2e6))))
    threads = package_threads(m, n0, n1) if device == "cpu" else torch.get_num_threads()
    with num_threads(threads):
        t = median_times(fns, reps, inner)
    size = f"{name} (m={m}, {n0}→{n1}→1)"
    ours, alone = t.paired("ours", "autograd"), t.paired("function alone", "autograd")
    rows = [goal_row(f"Function step / autograd step, {size}", ours * 1e6, t["autograd"] * 1e6, GOALS[name],
                     "us", threads=f"{threads} / {threads}")]  # fmt: skip
    alone_measure = f"of which the Function alone (no checks) / autograd step, {size}"
    rows.append(info_row(alone_measure, alone * 1e6, t["autograd"] * 1e6, "us", threads=f"{threads} / {threads}"))
    if "floor" in t:
        over_floor = t.paired("ours", "floor")
        rows.append(goal_row(f"Function step / two-matmul floor, {size}", over_floor * 1e6, t["floor"] * 1e6,
                             FLOOR_GOAL, "us", threads=f"{threads} / {threads}"))  # fmt: skip
    return rows


def bench_function(quick: bool, reps: int, device: str = "cpu") -> list[dict]:
    sizes = QUICK_SIZES if quick else SIZES
    max_inner = 20 if quick else 2000
    return [row for name, size in sizes.items() for row in bench_size(name, *size, reps, device, max_inner)]
