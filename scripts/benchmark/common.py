"""What the sections share: interleaved timing, the problems, the models users would write, the
peak-memory reader, child programs run with ``python -m``, and goal rows."""

from __future__ import annotations

import contextlib
import json
import operator
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parents[2]


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Timings(dict):
    """Median seconds per call of each function (the dict), and every repetition's (``runs``)."""

    def __init__(self, runs: dict[str, list[float]]) -> None:
        super().__init__({k: statistics.median(v) for k, v in runs.items()})
        self.runs = runs

    def paired(self, name: str, reference: str) -> float:
        """``name``'s seconds per call as the reference's median times the median, over the repetitions,
        of the two's ratio in each: a slow moment of a shared machine (another process, a hypervisor's
        steal) hits both of a pair, so this is steadier than the median of ``name`` alone."""
        ratios = [a / b for a, b in zip(self.runs[name], self.runs[reference], strict=True)]
        return self[reference] * statistics.median(ratios)


def median_times(fns: dict[str, Callable[[], object]], reps: int, inner: int) -> Timings:
    """Seconds per call of each function, the functions interleaved in every repetition
    (A, B, A, B, …), so that a machine's slow moment hits every variant alike."""
    for f in fns.values():  # warm up
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            sync()
            t = time.perf_counter()
            for _ in range(inner):
                f()
            sync()
            times[k].append((time.perf_counter() - t) / inner)
    return Timings(times)


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` threads (torch's count restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def binary_problem(m: int, n0: int, seed: int = 0, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(m, n0, generator=g)
    return X.to(device), (X[:, 0] * X[:, -1] > 0).float().to(device)


def tabular_data(n: int, d: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary labels from a random one-hidden-layer teacher, about balanced."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    W = torch.randn(d, 16, generator=g) / d**0.5
    v = torch.randn(16, generator=g)
    score = torch.tanh(X @ W) @ v
    return X, (score > score.median()).float()


def autograd_model(n0: int, n1: int) -> nn.Sequential:
    """What users write without the package: nn.Linear, nn.Tanh, nn.Linear (and BCE with logits)."""
    return nn.Sequential(nn.Linear(n0, n1), nn.Tanh(), nn.Linear(n1, 1))


# ---- goals: a ratio beside its goal ----------------------------------------------------------------
GOAL_OPERATORS = {"≤": operator.le, "≥": operator.ge}


def info_row(measure: str, ours: float, reference: float, unit: str, **extra: object) -> dict:
    """A ratio ``ours / reference`` printed for information, with no goal of its own."""
    return {"measure": measure, **extra, f"ours_{unit}": ours, f"reference_{unit}": reference,
            "ratio": ours / reference, "goal": "—", "met": "—"}  # fmt: skip


def goal_row(measure: str, ours: float, reference: float, goal: str, unit: str, **extra: object) -> dict:
    """One ratio beside its goal: ``ours / reference`` and whether it meets ``goal`` (``"≤ 1.05"``)."""
    op, value = goal.split()
    row = info_row(measure, ours, reference, unit, **extra)
    return {**row, "goal": goal, "met": GOAL_OPERATORS[op](row["ratio"], float(value))}


# ---- peak memory and child programs -------------------------------------------------------------------
def rss_kib(field: str) -> int:
    """``VmRSS:`` (now) or ``VmHWM:`` (peak) of this process, in KiB, from /proc/self/status."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def run_child(module: str, *args: str, fresh_process: bool = True) -> dict:
    """Run ``python -m scripts.benchmark.<module> args…`` from the repository's root and return the
    JSON object it prints last (``fresh_process=False``: its ``measure(*args)`` in this process)."""
    if not fresh_process:
        return __import__(f"scripts.benchmark.{module}", fromlist=["measure"]).measure(*args)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-m", f"scripts.benchmark.{module}", *args], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(measure: Callable[..., dict]) -> None:
    """The body of a child program: ``measure(*sys.argv[1:])`` printed as one JSON line."""
    print(json.dumps(measure(*sys.argv[1:])))
