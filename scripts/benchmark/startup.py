"""Start-up: wall time of `torchtwolayer --help`, `check`, `fit --help` and `import torchtwolayer`
against `import lightning.pytorch`. Busy: the default fit, `check --m 32 --n0 5 --n1 16 --n2 3` and the
README's plain-PyTorch loop (:mod:`.readme_step`), idle and beside one CPU-bound competing process."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import run_child


def _wall(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    """Seconds of wall time of one command, which must succeed."""
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchtwolayer", *args]


def bench_startup(reps: int) -> list[dict]:
    """Wall time of the commands that should start quickly, against importing lightning.pytorch."""
    commands = {
        "python -c 'import lightning.pytorch'": [sys.executable, "-c", "import lightning.pytorch"],
        "python -c 'import torchtwolayer'": [sys.executable, "-c", "import torchtwolayer"],
        "torchtwolayer --help": _command("--help"),
        "torchtwolayer check (defaults)": _command("check"),
        "torchtwolayer fit --help": _command("fit", "--help"),
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(reps):
        for name, cmd in commands.items():
            times[name].append(_wall(cmd))
    base = statistics.median(times["python -c 'import lightning.pytorch'"])
    return [
        {"command": name, "seconds": statistics.median(v), "vs_import_lightning": statistics.median(v) / base}
        for name, v in times.items()
    ]


def bench_busy(quick: bool) -> list[dict]:
    """Small work beside one CPU-bound competing process, against the same work on an idle machine:
    the default fit, ``check`` at the README's larger size, and the README's plain-PyTorch loop."""
    import tempfile

    fit_args = ["fit", "--trainer.enable_progress_bar", "false"] + (["--trainer.max_steps", "300"] if quick else [])
    check_args = ["check", "--m", "32", "--n0", "5", "--n1", "16", "--n2", "3"] + (
        ["--activations", "tanh", "--outputs", "sigmoid"] if quick else []
    )
    steps = 200 if quick else 2000

    def readme_step() -> float:
        return run_child("readme_step", str(steps))["seconds_per_step"]

    work = {
        "torchtwolayer fit (defaults), s": lambda cwd: _wall(_command(*fit_args), cwd=cwd),
        "torchtwolayer check --m 32 --n0 5 --n1 16 --n2 3, s": lambda cwd: _wall(_command(*check_args), cwd=cwd),
        "README's PyTorch loop, ms per step": lambda cwd: 1e3 * readme_step(),
    }
    rows = []
    for name, run in work.items():
        with tempfile.TemporaryDirectory() as cwd:
            idle = run(cwd)
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            with tempfile.TemporaryDirectory() as cwd:
                busy = run(cwd)
        finally:
            competitor.kill()
            competitor.wait()
        rows.append({"work": name, "idle": idle, "beside one busy process": busy, "slowdown": busy / idle})
    return rows
