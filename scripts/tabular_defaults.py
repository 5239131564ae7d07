"""Zero-flag defaults for ``torchtwolayer fit`` on a CSV file, measured against tuned flags, per task.

    python scripts/tabular_defaults.py                 # the six sets, the defaults and 3 tries each
    python scripts/tabular_defaults.py --quick         # a short smoke run (few epochs, wine and diabetes)
    python scripts/tabular_defaults.py --seeds 0 1 2   # the zero-flag fit under several seeds
    python scripts/tabular_defaults.py --datasets diabetes friedman1 cars --seeds 0 1 2   # regression only

Classification: scikit-learn's bundled breast-cancer, wine and digits. Regression, each target in
its own units: scikit-learn's diabetes (unscaled), ``make_friedman1`` (400 rows, noise 1) and
``cars``, 400 made-up cars with a model year and a categorical origin among 7 columns, the target
miles per gallon (:func:`make_cars`). Each is written as CSV files (named feature columns, the
target last) under ``--out`` (default ``tabular_defaults/``), each with a fixed 25 % hold-out file
(``train_test_split(test_size=0.25, random_state=0)``, stratified for classes). On each training
file the script runs ``python -m torchtwolayer fit`` with no flags (the command's own defaults for
a table of that task, ``torchtwolayer/lightning/defaults.py``) and with each of the task's tries
(:data:`TRIES`), scores the checkpoint each run reports (``best.ckpt``, the lowest validation
loss) on every row of the hold-out file (accuracy, or R² in the target's units), and prints a
Markdown table: the zero-flag fit's score, the best of the tries, the difference, and the wall
time of the zero-flag fit (the whole subprocess, Python and Lightning start-up included). A fit
that diverges is shown as such. ``--update-docs`` writes the table into ``docs/benchmarks.md``. Needs
scikit-learn and pandas.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from torchtwolayer.files import replace_marked_section

# Three tries of flags a practitioner might make, each a complete set of the knobs above, per task.
CLASSIFICATION_TRIES: dict[str, dict[str, str]] = {
    "wide, momentum, early stop": {
        "--model.hidden_size": "100",
        "--model.lr": "0.05",
        "--model.momentum": "0.9",
        "--data.batch_size": "32",
        "--trainer.max_steps": "-1",
        "--trainer.max_epochs": "300",
        "--trainer.callbacks+": "EarlyStopping",
        "--trainer.callbacks.monitor": "val/loss",
        "--trainer.callbacks.patience": "20",
    },
    "16 units, lr 0.5, batch 32, 40 epochs (configs/csv.yaml)": {
        "--model.hidden_size": "16",
        "--model.lr": "0.5",
        "--data.batch_size": "32",
        "--trainer.max_steps": "-1",
        "--trainer.max_epochs": "40",
    },
    "64 units, full batch, lr 1.0, weight decay 1e-3, 2000 steps": {
        "--model.hidden_size": "64",
        "--model.lr": "1.0",
        "--model.weight_decay": "1e-3",
        "--data.batch_size": "0",
        "--trainer.max_steps": "2000",
    },
}
# Regression's: the same three kinds, with the step sizes an identity head tolerates.
REGRESSION_TRIES: dict[str, dict[str, str]] = {
    "wide, momentum, early stop": {**CLASSIFICATION_TRIES["wide, momentum, early stop"], "--model.lr": "0.01"},
    "16 units, lr 0.1, batch 32, 100 epochs": {
        "--model.hidden_size": "16",
        "--model.lr": "0.1",
        "--data.batch_size": "32",
        "--trainer.max_steps": "-1",
        "--trainer.max_epochs": "100",
    },
    "64 units, full batch, lr 0.1, weight decay 1e-3, 2000 steps": {
        "--model.hidden_size": "64",
        "--model.lr": "0.1",
        "--model.weight_decay": "1e-3",
        "--data.batch_size": "0",
        "--trainer.max_steps": "2000",
    },
}
CLASSIFICATION = ("breast_cancer", "wine", "digits")
REGRESSION = ("diabetes", "friedman1", "cars")
DATASETS = CLASSIFICATION + REGRESSION
TRIES = {**{name: CLASSIFICATION_TRIES for name in CLASSIFICATION}, **{name: REGRESSION_TRIES for name in REGRESSION}}
QUICK = {"--trainer.max_epochs": "3", "--trainer.max_steps": "-1"}  # --quick: every run this short


def make_cars(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Made-up cars: cylinders, displacement, horsepower, weight, acceleration, model year (1970–1982)
    and origin (text), and miles per gallon, which falls with weight and power and rises with the year."""
    import numpy as np

    rng = np.random.default_rng(seed)
    origin = rng.choice(["usa", "europe", "japan"], n, p=[0.6, 0.2, 0.2])
    usa = rng.choice([4, 6, 8], n, p=[0.3, 0.3, 0.4])
    cylinders = np.where(origin == "usa", usa, rng.choice([4, 6], n, p=[0.8, 0.2]))
    year = rng.integers(1970, 1983, n)
    displacement = cylinders * rng.normal(40, 5, n)
    horsepower = 0.4 * displacement + rng.normal(30, 10, n)
    weight = 700 + 9 * displacement + rng.normal(0, 200, n)
    acceleration = 20 - 0.03 * horsepower + rng.normal(0, 1.5, n)
    mpg = 45 - 0.006 * weight - 0.05 * horsepower + 0.6 * (year - 1970) + 2 * (origin == "japan")
    return pd.DataFrame(
        {
            "cylinders": cylinders,
            "displacement": displacement.round(1),
            "horsepower": horsepower.round(0),
            "weight": weight.round(0),
            "acceleration": acceleration.round(1),
            "year": year,
            "origin": origin,
            "mpg": (mpg + rng.normal(0, 2.5, n)).round(1),
        }
    )


def load_frame(name: str) -> pd.DataFrame:
    """The data set as a frame: the features by name, then the target."""
    from sklearn import datasets

    if name == "cars":
        return make_cars()
    if name == "friedman1":
        X, y = datasets.make_friedman1(n_samples=400, noise=1.0, random_state=0)
        return pd.DataFrame({**{f"x{i + 1}": X[:, i] for i in range(X.shape[1])}, "y": y})
    if name == "diabetes":
        return datasets.load_diabetes(as_frame=True, scaled=False).frame  # the target in its own units
    loaders = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine, "digits": datasets.load_digits}
    return loaders[name](as_frame=True).frame


def export_datasets(out: Path, names: Sequence[str]) -> dict[str, tuple[Path, Path]]:
    """Each set as ``<name>_train.csv`` and ``<name>_holdout.csv`` (25 %, fixed seed; stratified for classes)."""
    from sklearn.model_selection import train_test_split

    files = {}
    for name in names:
        frame = load_frame(name)
        stratify = frame.iloc[:, -1] if name in CLASSIFICATION else None
        train, holdout = train_test_split(frame, test_size=0.25, stratify=stratify, random_state=0)
        paths = (out / "data" / f"{name}_train.csv", out / "data" / f"{name}_holdout.csv")
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        train.to_csv(paths[0], index=False)
        holdout.to_csv(paths[1], index=False)
        files[name] = paths
    return files


def fit(train_csv: Path, flags: dict[str, str], run_dir: Path, seed: int) -> tuple[Path | None, float]:
    """``python -m torchtwolayer fit`` on ``train_csv`` with ``flags``; the checkpoint it reports (None:
    training diverged) and its wall time."""
    args = [
        sys.executable, "-m", "torchtwolayer", "-q", "fit",
        "--data.dataset", str(train_csv),
        "--seed_everything", str(seed), "--model.seed", str(seed), "--data.seed", str(seed),
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.logger.init_args.save_dir", str(run_dir), "--trainer.logger.init_args.name", "fit",
    ]  # fmt: skip
    for flag, value in flags.items():
        args += [flag, value]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ.copy())
    seconds = time.perf_counter() - start
    if done.returncode == 2 and "training diverged" in done.stderr:
        return None, seconds
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    runs = sorted(run_dir.glob("fit/version_*/checkpoints/best.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    return runs[-1], seconds


def holdout_score(ckpt_path: Path | None, holdout_csv: Path) -> float | None:
    """Accuracy (classes) or R² (regression, in the target's units) of the checkpoint on every row of
    the hold-out file, through its own data transform: what ``torchtwolayer test --ckpt_path CKPT
    --data.dataset HOLDOUT`` reports as ``test/acc`` or ``test/r2``. None for a fit that diverged."""
    from torchtwolayer.lightning.checkpoints import load_data, load_model

    if ckpt_path is None:
        return None
    model = load_model(ckpt_path)
    dm = load_data(ckpt_path, dataset=str(holdout_csv), holdout=True)
    scores = model.score(*dm.tensors("test"))
    return scores["r2"] if "r2" in scores else scores["acc"]


def measure(name: str, files: tuple[Path, Path], out: Path, seed: int, quick: bool) -> dict:
    """The zero-flag fit and each try, under one seed (initialisation, split and batch order), on one data set."""
    train_csv, holdout_csv = files
    train, holdout = pd.read_csv(train_csv), pd.read_csv(holdout_csv)
    extra = QUICK if quick else {}
    runs = out / "runs" / name / f"seed_{seed}"
    ckpt, seconds = fit(train_csv, dict(extra), runs / "zero_flag", seed)
    zero = holdout_score(ckpt, holdout_csv)
    tries = {}
    for k, (label, flags) in enumerate(TRIES[name].items()):
        ckpt, _ = fit(train_csv, {**flags, **extra}, runs / f"try_{k + 1}", seed)
        tries[label] = holdout_score(ckpt, holdout_csv)
    best = max(tries, key=lambda label: -float("inf") if tries[label] is None else tries[label])
    return {
        "data set": name,
        "task": "regression" if name in REGRESSION else "classes",
        "seed": seed,
        "shape": f"{len(train) + len(holdout)} × {train.shape[1] - 1}",
        "zero": zero,
        "tries": tries,
        "best": best,
        "seconds": seconds,
    }


def markdown_table(results: Sequence[dict]) -> str:
    """One row per data set and seed: accuracy in % for classes, R² for regression; "diverged" for a failed fit."""
    lines = [
        "| data set (seed) | rows × features | zero-flag hold-out accuracy or R² | best of 3 tries (which flags) "
        "| difference | zero-flag fit time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        zero, best = r["zero"], r["tries"][r["best"]]
        regression = r["task"] == "regression"

        def shown(v: float | None, regression: bool = regression) -> str:
            return "diverged" if v is None else f"R² {v:.3f}" if regression else f"{100 * v:.2f} %"

        if zero is None or best is None:
            difference = "–"
        else:
            difference = f"{zero - best:+.3f}" if regression else f"{100 * (zero - best):+.2f} pts"
        lines.append(
            f"| {r['data set']} ({r['seed']}) | {r['shape']} | {shown(zero)} | {shown(best)} ({r['best']}) "
            f"| {difference} | {r['seconds']:.1f} s |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("tabular_defaults"), help="folder for data, runs and table")
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS, help=f"default: {' '.join(DATASETS)} (--quick: wine diabetes)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="one row per data set and seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 epochs per fit (only wine and diabetes unless --datasets)",
    )
    parser.add_argument(
        "--update-docs",
        "--update-readme",
        action="store_true",
        help="write the table into docs/benchmarks.md",
    )
    args = parser.parse_args(argv)
    if args.datasets is None:
        args.datasets = ["wine", "diabetes"] if args.quick else list(DATASETS)
    files = export_datasets(args.out, args.datasets)
    results = [measure(name, files[name], args.out, seed, args.quick) for name in args.datasets for seed in args.seeds]
    table = markdown_table(results)
    (args.out / "tabular_defaults.md").write_text(table + "\n")
    print(table)
    if args.update_docs:
        replace_marked_section(Path(__file__).resolve().parents[1] / "docs/benchmarks.md", "tabular-defaults", table)
    return results


if __name__ == "__main__":
    main()
