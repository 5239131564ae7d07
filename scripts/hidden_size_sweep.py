"""The course's experiment: how the hidden layer's size shapes the decision boundary.

    python scripts/hidden_size_sweep.py                                   # the flower, tanh
    python scripts/hidden_size_sweep.py --activations tanh sigmoid relu leaky_relu
    python scripts/hidden_size_sweep.py --datasets planar moons circles blobs gaussian_quantiles xor
    python scripts/hidden_size_sweep.py --update-docs                     # refresh the docs' table and figures

For each data set and activation: full-batch gradient descent (the note's, fused:
:class:`torchtwolayer.GradientDescent`) with hidden sizes 1, 2, 3, 4, 5, 20, 50, lr 1.2 and
5 000 steps on the whole data set (400 points, features standardised), the course's
initialisation (N(0, 0.01²) weights), a fixed seed, in float64 like the course's numpy; one
figure with a decision-boundary panel per hidden size, and a markdown table: hidden size →
training accuracy and final cost. Everything is written to ``--out`` (default:
``hidden_size_sweep/`` in the working folder); only ``--update-docs`` touches the repository.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure

from torchtwolayer import GradientDescent, TwoLayerNet
from torchtwolayer.data.builtin import make_dataset
from torchtwolayer.files import replace_marked_section
from torchtwolayer.plots import draw_decision_boundary, plot_decision_boundary, save

ROOT = Path(__file__).resolve().parents[1]
DOCS_FIGURES = ROOT / "docs" / "figures"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"

SIZES = (1, 2, 3, 4, 5, 20, 50)
DOCS_SECTION = "sweep-table"  # <!-- sweep-table:start --> … <!-- sweep-table:end --> in DOCS_PAGE


def train(dataset: str, activation: str, n1: int, steps: int, lr: float, seed: int) -> dict:
    """One network trained on the whole data set; its accuracy, final cost and the pieces to draw it."""
    X_raw, y = make_dataset(dataset, 400, seed=seed)
    X_raw = X_raw.double()
    mean, std = X_raw.mean(0), X_raw.std(0)
    X = (X_raw - mean) / std
    n_classes = int(y.max()) + 1
    n2, output = (1, "sigmoid") if n_classes == 2 else (n_classes, "softmax")
    net = TwoLayerNet(2, n1, n2, activation, output, init="course", seed=seed, dtype=torch.float64)
    GradientDescent(net, X, y, lr).run(steps)
    accuracy = (net.predict(X) == y).double().mean().item()
    return {
        "dataset": dataset,
        "activation": activation,
        "hidden size": n1,
        "training accuracy": accuracy,
        "final cost": net.cost(X, y).item(),
        "_net": net,
        "_data": (X_raw, y, lambda Z: (Z - mean) / std),
    }


def sweep(
    datasets: Sequence[str], activations: Sequence[str], sizes: Sequence[int], steps: int, lr: float, seed: int
) -> list[dict]:
    return [train(d, a, n, steps, lr, seed) for d in datasets for a in activations for n in sizes]


def markdown_table(rows: Sequence[dict]) -> str:
    several = len({(r["dataset"], r["activation"]) for r in rows}) > 1
    head = ["data set", "activation"] if several else []
    lines = [
        "| " + " | ".join([*head, "hidden size", "training accuracy", "final cost"]) + " |",
        "|" + "---|" * (len(head) + 3),
    ]
    for r in rows:
        first = [r["dataset"], r["activation"]] if several else []
        cells = [*first, str(r["hidden size"]), f"{100 * r['training accuracy']:.2f} %", f"{r['final cost']:.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(rows: Sequence[dict], path: Path, panel: float = 2.4) -> Path:
    """One panel per hidden size (columns), one row per data set × activation."""
    groups = list(dict.fromkeys((r["dataset"], r["activation"]) for r in rows))
    sizes = list(dict.fromkeys(r["hidden size"] for r in rows))
    fig = Figure(figsize=(panel * len(sizes), panel * len(groups)))
    axes = fig.subplots(len(groups), len(sizes), squeeze=False)
    for r in rows:
        ax = axes[groups.index((r["dataset"], r["activation"])), sizes.index(r["hidden size"])]
        X_raw, y, transform = r["_data"]
        draw_decision_boundary(ax, r["_net"], X_raw, y, transform, resolution=120)
        ax.set_title(f"{r['dataset']}, {r['activation']}, n1={r['hidden size']}\n"
                     f"acc {100 * r['training accuracy']:.1f} %", fontsize=8)  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.tight_layout()
    return save(fig, path, dpi=60)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["planar"])
    parser.add_argument("--activations", nargs="+", default=["tanh"])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--lr", type=float, default=1.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("hidden_size_sweep"), help="folder for the outputs")
    parser.add_argument("--no-figure", action="store_true", help="only the table")
    parser.add_argument(
        "--update-docs", action="store_true", help="write the table to docs/benchmarks.md, its figures to docs/figures"
    )
    args = parser.parse_args(argv)
    if args.update_docs:
        args.out, args.no_figure = DOCS_FIGURES, False
    start = time.perf_counter()
    rows = sweep(args.datasets, args.activations, args.sizes, args.steps, args.lr, args.seed)
    table = markdown_table(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hidden_size_sweep.md").write_text(table + "\n")
    print(table)
    if not args.no_figure:
        print(f"\nWrote {figure(rows, args.out / 'hidden_size_sweep.png')}")
        course = [r for r in rows if (r["dataset"], r["activation"], r["hidden size"]) == ("planar", "tanh", 4)]
        if course:  # the course's choice of network, alone, for the docs
            X_raw, y, transform = course[0]["_data"]
            path = plot_decision_boundary(
                course[0]["_net"], X_raw, y, args.out / "flower_decision_boundary.png", transform,
                title="the flower, 4 hidden tanh units", size=(4.5, 3.6), dpi=70,
            )  # fmt: skip
            print(f"Wrote {path}")
    if args.update_docs:
        replace_marked_section(DOCS_PAGE, DOCS_SECTION, table)
        print(f"Updated {DOCS_PAGE.relative_to(ROOT)}")
    print(f"({time.perf_counter() - start:.1f} s)")
    return rows


if __name__ == "__main__":
    main()
