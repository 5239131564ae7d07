"""The scikit-learn estimators' defaults against ``MLPClassifier``'s, with only the hidden size set.

    python scripts/sklearn_defaults.py                     # the defaults, four small tables, 5 folds, seeds 0 1 2
    python scripts/sklearn_defaults.py --candidates        # also the settings the defaults were chosen from
    python scripts/sklearn_defaults.py --quick             # one seed, two tables (a smoke run)

For each table, ``StandardScaler() + TwoLayerClassifier(hidden_size=32, random_state=s)`` and
``StandardScaler() + MLPClassifier((32,), random_state=s)`` (scikit-learn's defaults: adam, relu,
lr 1e-3, batch min(200, n), 200 epochs) are scored by the same 5-fold stratified cross-validation
(shuffled, ``random_state=0``); the mean accuracy over the folds and the seeds is printed as a
Markdown table with the difference in points and the goal (≥ −1 point). One thread each (torch and
numpy's BLAS). Needs scikit-learn.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

GOAL = -1.0  # points of accuracy: ours may be at most one point under MLP's
HIDDEN = 32

# Settings tried (with hidden_size=32) before choosing the defaults; the first is the defaults. Measured
# (seeds 0 1): every relu setting met the goal on the four tables; every tanh setting missed it on
# make_classification by 4.5 to 7.3 points (and on two more make_classification tables by 2 to 3.4).
CANDIDATES: dict[str, dict[str, object]] = {
    "defaults (relu, lr 0.1, batch min(200, n), no momentum)": {},
    "before: tanh": {"activation": "tanh"},
    "tanh, lr 0.03, momentum 0.9 nesterov": {"activation": "tanh", "lr": 0.03, "momentum": 0.9, "nesterov": True},
    "tanh, lr 0.01, batch 32, momentum 0.9 nesterov": {
        "activation": "tanh",
        "lr": 0.01,
        "batch_size": 32,
        "momentum": 0.9,
        "nesterov": True,
    },
    "relu, lr 0.03, momentum 0.9 nesterov": {"lr": 0.03, "momentum": 0.9, "nesterov": True},
    "relu, lr 0.01, batch 32, momentum 0.9 nesterov": {"lr": 0.01, "batch_size": 32, "momentum": 0.9, "nesterov": True},
    "relu, batch 32": {"batch_size": 32},
}


def tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Four small classification tables (150 to 600 rows)."""
    from sklearn import datasets

    sets = {name: getattr(datasets, f"load_{name}")(return_X_y=True) for name in ("iris", "wine", "breast_cancer")}
    sets["make_classification"] = datasets.make_classification(
        600, 20, n_informative=8, n_redundant=4, n_classes=3, random_state=0
    )
    return sets


def accuracy(make: Callable[[int], object], X: np.ndarray, y: np.ndarray, seeds: Sequence[int]) -> float:
    """Mean 5-fold accuracy of ``StandardScaler() + make(seed)``, over the seeds."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(np.mean([cross_val_score(make_pipeline(StandardScaler(), make(s)), X, y, cv=cv) for s in seeds]))


def compare(settings: dict[str, dict[str, object]], sets: Sequence[str], seeds: Sequence[int]) -> list[dict]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    from torchtwolayer.sklearn import TwoLayerClassifier

    rows = []
    data = tables()
    torch.set_num_threads(1)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in sets:
            X, y = data[name]
            mlp = accuracy(lambda s: MLPClassifier((HIDDEN,), random_state=s), X, y, seeds)
            for setting, params in settings.items():
                ours = accuracy(lambda s, p=params: TwoLayerClassifier(HIDDEN, random_state=s, **p), X, y, seeds)
                rows.append({"set": f"{name} ({len(y)})", "setting": setting, "ours": ours, "mlp": mlp})
    return rows


def markdown(rows: list[dict], with_setting: bool) -> str:
    head = ["set"] + (["setting"] if with_setting else []) + ["ours", "MLPClassifier", "difference", "goal ≥ −1 point"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        diff = 100 * (r["ours"] - r["mlp"])
        cells = [r["set"]] + ([r["setting"]] if with_setting else [])
        cells += [f"{r['ours']:.4f}", f"{r['mlp']:.4f}", f"{diff:+.2f}", "met" if diff >= GOAL else "**missed**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", action="store_true", help="also every setting of CANDIDATES")
    parser.add_argument("--quick", action="store_true", help="one seed, iris and wine")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", default=list(tables()))
    args = parser.parse_args(argv)
    seeds, sets = ([0], ["iris", "wine"]) if args.quick else (args.seeds, args.sets)
    settings = CANDIDATES if args.candidates else {"defaults": {}}
    rows = compare(settings, sets, seeds)
    print(f"hidden_size={HIDDEN}, 5-fold stratified CV, mean over seeds {list(seeds)}\n")
    print(markdown(rows, with_setting=args.candidates))


if __name__ == "__main__":
    main()
