"""Pictures: decision boundaries over 2-D data and learning curves from a run's logs.

Figures are drawn with matplotlib's object API on the Agg canvas, so nothing here
touches pyplot's global state or needs a display.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

ArrayLike = np.ndarray | Tensor | Sequence[Sequence[float]]


def _as_numpy(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)


def _network(model: Any) -> Any:
    """The object with ``predict_proba``: a TwoLayerNet, or the one inside a TwoLayerModule."""
    net = getattr(model, "net", model)
    if not hasattr(net, "predict_proba"):
        raise TypeError(f"expected a TwoLayerNet or TwoLayerModule, got {type(model).__name__}")
    return net


def draw_decision_boundary(
    ax: Axes,
    model: Any,
    X: ArrayLike,
    y: ArrayLike,
    transform: Callable[[Tensor], Tensor] | None = None,
    feature_names: Sequence[str] = ("x1", "x2"),
    resolution: int = 200,
) -> None:
    """Draw the model's probability field (binary), class regions (multi-class) or predicted
    values (regression) over the plane of the 2-D points ``X``, with the points on top.

    ``transform`` maps raw points to the model's inputs (e.g. the data module's standardisation).
    """
    X, y = _as_numpy(X).astype(np.float64), _as_numpy(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        shape = X.shape[1] if X.ndim == 2 else X.shape
        raise ValueError(
            f"a decision boundary is drawn over 2 features, but X has {shape}; "
            "plot a model trained on 2-D data, or project your data first"
        )
    net = _network(model)
    pad = 0.1 * (X.max(0) - X.min(0)) + 1e-9
    lo, hi = X.min(0) - pad, X.max(0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = torch.as_tensor(np.c_[g0.ravel(), g1.ravel()], dtype=net.W1.dtype, device=net.W1.device)
    P = net.predict_proba(transform(grid) if transform is not None else grid).cpu().numpy()
    if net.output == "softmax":
        regions = P.argmax(1).reshape(g0.shape)
        ax.contourf(g0, g1, regions, levels=np.arange(P.shape[1] + 1) - 0.5, cmap="tab10", alpha=0.3, vmin=0, vmax=9)
        _points(ax, X, y, cmap="tab10", vmin=0, vmax=9)
    elif net.output == "sigmoid":
        field = P[:, 0].reshape(g0.shape)
        ax.contourf(g0, g1, field, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(g0, g1, field, levels=[0.5], colors="k", linewidths=1)
        _points(ax, X, y, cmap="RdBu_r", vmin=0, vmax=1)
    else:
        field = P[:, 0].reshape(g0.shape)
        ax.contourf(g0, g1, field, levels=20, cmap="viridis", alpha=0.6)
        _points(ax, X, y, cmap="viridis")
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])


def save(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG, through a temporary file, and return the path."""
    from .files import write_atomically

    FigureCanvasAgg(fig)
    return write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=dpi), binary=True)


def plot_decision_boundary(
    model: Any,
    X: ArrayLike,
    y: ArrayLike,
    path: str | Path = "decision_boundary.png",
    transform: Callable[[Tensor], Tensor] | None = None,
    feature_names: Sequence[str] = ("x1", "x2"),
    title: str | None = None,
    size: tuple[float, float] = (5.0, 4.0),
    dpi: int = 100,
) -> Path:
    """Write the decision boundary of ``model`` over the 2-D points ``(X, y)`` as a PNG.

    Args:
        model: a :class:`TwoLayerNet` or :class:`TwoLayerModule`.
        X: raw points, (m, 2). y: their labels or values, (m,).
        path: the PNG to write.
        transform: raw points → model inputs (the training standardisation).
        feature_names: axis labels.
        title: the figure's title (default: the network's settings).
        size, dpi: figure size in inches and resolution; the PNG is size·dpi pixels.

    Returns:
        The path written.
    """
    net = _network(model)
    fig = Figure(figsize=size)
    ax = fig.add_subplot()
    draw_decision_boundary(ax, model, X, y, transform, feature_names)
    ax.set_title(title or f"{net.n1} hidden {net.activation} units, {net.output} output")
    fig.tight_layout()
    return save(fig, path, dpi)


def _points(ax: Any, X: Any, y: Any, **colours: Any) -> None:
    """The data points, coloured by their target when there is one for each (a file to predict has none)."""
    ax.scatter(
        X[:, 0],
        X[:, 1],
        **({} if y is None or len(y) != len(X) else {"c": y, **colours}),
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )


def read_metrics(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{column: (steps, values)}`` from a CSVLogger ``metrics.csv`` (or the run folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file at {path}; give a run folder like runs/torchtwolayer/version_0")
    series: dict[str, tuple[list[float], list[float]]] = {}
    try:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                step = float(row["step"])
                for key, value in row.items():
                    if key not in ("epoch", "step") and value not in ("", None):
                        steps, values = series.setdefault(key, ([], []))
                        steps.append(step)
                        values.append(float(value))
    except (KeyError, ValueError, TypeError, csv.Error) as error:  # a decode error is a ValueError
        what = "no 'step' column" if isinstance(error, KeyError) else str(error).split("\n")[0]
        raise ValueError(
            f"{path} is not a metrics.csv written by a run ({what}); give the folder of a run, "
            "e.g. runs/torchtwolayer/version_0"
        ) from None
    return {k: (np.asarray(s), np.asarray(v)) for k, (s, v) in series.items()}


def plot_learning_curves(
    run: str | Path, path: str | Path | None = None, size: tuple[float, float] = (10.0, 4.0), dpi: int = 100
) -> Path:
    """Cost (left) and metrics (right) against steps, train and validation, from a run's logs.

    Args:
        run: the run folder (``runs/torchtwolayer/version_N``) or its ``metrics.csv``.
        path: the PNG to write (default: ``learning_curves.png`` in the run folder).
    """
    series = read_metrics(run)
    if not series:
        raise ValueError(f"{run}: the metrics file has no logged values yet")
    run_dir = Path(run) if Path(run).is_dir() else Path(run).parent
    fig = Figure(figsize=size)
    cost_ax, metric_ax = fig.subplots(1, 2)
    styles = {"train/loss_step": ("train (step)", "-", 0.4), "train/loss": ("train (epoch)", "-", 1.0)}
    styles["val/loss"] = ("validation", "--", 1.0)
    for key, (label, line, alpha) in styles.items():
        if key in series:
            cost_ax.plot(*series[key], line, label=label, alpha=alpha)
    cost_ax.set(xlabel="step", ylabel="cost J", title="cost")
    for key, (steps, values) in sorted(series.items()):
        if "loss" not in key:
            metric_ax.plot(steps, values, "--" if key.startswith("val") else "-", label=key)
    metric_ax.set(xlabel="step", title="metrics")
    for ax in (cost_ax, metric_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path or run_dir / "learning_curves.png", dpi)
