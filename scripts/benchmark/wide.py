"""(Not in the default run: ``--sections wide``.) Wide tables and many classes: seconds and peak
memory of ``torchtwolayer fit`` (issue 21).

Each fit runs in a child process (:mod:`.wide_child`: ``fit --data.dataset FILE
--trainer.max_steps 20`` in a fresh folder) that reports its own wall time and peak resident
memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). A small fit of the same kind (same rows,
a few columns or classes) is the baseline, so the table shows the cost beyond start-up:

- wide: 200 rows × 5 000 numeric columns; goal: at most a few (5) seconds beyond the baseline
  (every per-column step linear: the quadratic lookups this replaced took minutes);
- many classes: 10 000 text classes, 10 rows each, 64 numeric columns; goal: peak memory beyond
  the baseline (the same rows in 100 classes) at most 4 × the data matrix X (rows × inputs,
  float32): nothing may grow with rows × classes (an evaluation batch of 65 536 rows × 10 000
  classes took 2.4 GiB per tensor).

Timings depend on the machine and its load: compare rows of one run, not runs of two machines.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .common import run_child

STEPS = 20
WIDE_SECONDS_GOAL = 5.0  # seconds beyond the baseline
MANY_CLASSES_MEMORY_GOAL = 4.0  # × the data matrix X (rows × inputs, float32)
CLASS_COLUMNS = 64


def write_numbers(path: Path, rows: int, columns: int, seed: int = 0) -> Path:
    """A CSV of ``rows`` × ``columns`` normal numbers and a binary ``label`` (the first column's sign)."""
    X = np.random.default_rng(seed).normal(size=(rows, columns)).astype(np.float32)
    header = ",".join([*(f"x{j}" for j in range(columns)), "label"])
    body = np.column_stack([X, X[:, 0] > 0])
    np.savetxt(path, body, fmt=["%.4f"] * columns + ["%d"], delimiter=",", header=header, comments="")
    return path


def write_classes(path: Path, classes: int, per_class: int = 10, columns: int = CLASS_COLUMNS, seed: int = 0) -> Path:
    """A CSV of ``classes × per_class`` rows: ``columns`` numbers near the class's centre, and a text ``label``."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per_class)
    X = rng.normal(size=(classes, columns))[y] + 0.1 * rng.normal(size=(len(y), columns))
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns_ = {f"x{j}": X[:, j].astype(np.float32) for j in range(columns)}
    pacsv.write_csv(pa.table({**columns_, "label": np.char.add("class", y.astype(str))}), path)
    return path


def fit(path: Path, steps: int = STEPS) -> dict:
    """Seconds and peak MiB of one ``torchtwolayer fit`` of ``path`` in a child process."""
    result = run_child("wide_child", str(path.resolve()), str(steps))
    if result.pop("status") != 0:
        raise RuntimeError(f"fit of {path} failed; run it by hand: torchtwolayer fit --data.dataset {path}")
    return result


def bench_wide(quick: bool = False) -> list[dict]:
    """The two cases and their baselines: one row each, with the goal beside it."""
    rows, columns, classes = (200, 500, 1000) if quick else (200, 5000, 10000)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        wide_base = fit(write_numbers(folder / "narrow.csv", rows, 5))
        wide = fit(write_numbers(folder / "wide.csv", rows, columns))
        classes_base = fit(write_classes(folder / "few_classes.csv", classes=classes // 100, per_class=1000))
        many = fit(write_classes(folder / "many_classes.csv", classes=classes))
    matrix_mib = classes * 10 * CLASS_COLUMNS * 4 / 2**20
    beyond = wide["seconds"] - wide_base["seconds"]
    grown = many["peak_mib"] - classes_base["peak_mib"]
    return [
        {"case": f"{rows} rows × 5 columns (baseline)", **wide_base, "goal": ""},
        {
            "case": f"{rows} rows × {columns} columns", **wide,
            "goal": f"≤ {WIDE_SECONDS_GOAL:g} s beyond the baseline: {beyond:.1f} s "
            + ("✓" if beyond <= WIDE_SECONDS_GOAL else "✗"),
        },
        {"case": f"{classes * 10} rows, {classes // 100} classes (baseline)", **classes_base, "goal": ""},
        {
            "case": f"{classes * 10} rows, {classes} classes", **many,
            "goal": f"≤ {MANY_CLASSES_MEMORY_GOAL:g} × {matrix_mib:.0f} MiB (X: rows × inputs, float32) beyond the "
            f"baseline: {grown:.0f} MiB " + ("✓" if grown <= MANY_CLASSES_MEMORY_GOAL * matrix_mib else "✗"),
        },
    ]  # fmt: skip
