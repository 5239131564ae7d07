"""Zero-flag defaults for ``torchtwolayer fit`` on a CSV file, measured against tuned flags.

    python scripts/tabular_defaults.py                 # the three sets, the proposed defaults and 3 tries each
    python scripts/tabular_defaults.py --quick         # a short smoke run (few epochs, one set)
    python scripts/tabular_defaults.py --seeds 0 1 2   # the zero-flag fit under several seeds

scikit-learn's bundled breast-cancer, wine and digits are written as CSV files (named feature
columns, the target last) under ``--out`` (default ``tabular_defaults/``), each with a fixed
stratified 25 % hold-out file (``train_test_split(test_size=0.25, random_state=0)``). On each
training file the script runs ``python -m torchtwolayer fit`` with no flags (the command's own
defaults for a table, ``torchtwolayer/lightning/defaults.py``) and with each of :data:`TRIES`,
scores the checkpoint each run reports (``best.ckpt``, the lowest validation loss) on every row
of the hold-out file, and prints a Markdown table: hold-out accuracy of the zero-flag fit, the
best of the tries, the difference, and the wall time of the zero-flag fit (the whole subprocess,
Python and Lightning start-up included). ``--update-docs`` writes the table into ``docs/benchmarks.md``.
Needs scikit-learn and pandas.
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

# Three tries of flags a practitioner might make, each a complete set of the knobs above.
TRIES: dict[str, dict[str, str]] = {
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

DATASETS = ("breast_cancer", "wine", "digits")
QUICK = {"--trainer.max_epochs": "3", "--trainer.max_steps": "-1"}  # --quick: every run this short


def export_datasets(out: Path, names: Sequence[str]) -> dict[str, tuple[Path, Path]]:
    """Each scikit-learn set as ``<name>_train.csv`` and ``<name>_holdout.csv`` (stratified 25 %, fixed seed)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = dict(zip(DATASETS, (datasets.load_breast_cancer, datasets.load_wine, datasets.load_digits), strict=True))
    files = {}
    for name in names:
        frame = loaders[name](as_frame=True).frame  # the features by name, then "target"
        train, holdout = train_test_split(frame, test_size=0.25, stratify=frame["target"], random_state=0)
        paths = (out / "data" / f"{name}_train.csv", out / "data" / f"{name}_holdout.csv")
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        train.to_csv(paths[0], index=False)
        holdout.to_csv(paths[1], index=False)
        files[name] = paths
    return files


def fit(train_csv: Path, flags: dict[str, str], run_dir: Path, seed: int) -> tuple[Path, float]:
    """``python -m torchtwolayer fit`` on ``train_csv`` with ``flags``; the checkpoint it reports and its wall time."""
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
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    runs = sorted(run_dir.glob("fit/version_*/checkpoints/best.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    return runs[-1], seconds


def holdout_accuracy(ckpt_path: Path, holdout_csv: Path) -> float:
    """Accuracy of the checkpoint on every row of the hold-out file, through its own data transform:
    what ``torchtwolayer test --ckpt_path CKPT --data.dataset HOLDOUT`` reports as ``test/acc``."""
    from torchtwolayer.lightning.checkpoints import load_data, load_model

    model = load_model(ckpt_path)
    dm = load_data(ckpt_path, dataset=str(holdout_csv), holdout=True)
    return model.score(*dm.tensors("test"))["acc"]


def measure(name: str, files: tuple[Path, Path], out: Path, seed: int, quick: bool) -> dict:
    """The zero-flag fit and each try, under one seed (initialisation, split and batch order), on one data set."""
    train_csv, holdout_csv = files
    train, holdout = pd.read_csv(train_csv), pd.read_csv(holdout_csv)
    extra = QUICK if quick else {}
    runs = out / "runs" / name / f"seed_{seed}"
    ckpt, seconds = fit(train_csv, dict(extra), runs / "zero_flag", seed)
    zero = holdout_accuracy(ckpt, holdout_csv)
    tries = {}
    for k, (label, flags) in enumerate(TRIES.items()):
        ckpt, _ = fit(train_csv, {**flags, **extra}, runs / f"try_{k + 1}", seed)
        tries[label] = holdout_accuracy(ckpt, holdout_csv)
    best = max(tries, key=tries.get)
    return {
        "data set": name,
        "seed": seed,
        "shape": f"{len(train) + len(holdout)} × {train.shape[1] - 1}",
        "zero": zero,
        "tries": tries,
        "best": best,
        "seconds": seconds,
    }


def markdown_table(results: Sequence[dict]) -> str:
    lines = [
        "| data set (seed) | rows × features | zero-flag hold-out accuracy | best of 3 tries (which flags) "
        "| difference | zero-flag fit time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        best = r["tries"][r["best"]]
        lines.append(
            f"| {r['data set']} ({r['seed']}) | {r['shape']} | {100 * r['zero']:.2f} % "
            f"| {100 * best:.2f} % ({r['best']}) | {100 * (r['zero'] - best):+.2f} pts | {r['seconds']:.1f} s |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("tabular_defaults"), help="folder for data, runs and table")
    parser.add_argument(
        "--datasets", nargs="+", choices=DATASETS, help=f"default: {' '.join(DATASETS)} (--quick: wine)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="one row per data set and seed")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 epochs per fit (and only wine unless --datasets)"
    )
    parser.add_argument("--update-docs", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.datasets is None:
        args.datasets = ["wine"] if args.quick else list(DATASETS)
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
