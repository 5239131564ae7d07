"""What the page draws, computed from a :class:`~.run.Run`: the plane's pictures, the points,
the curves, the weights and the note's equations with the current numbers.

Pictures travel as bytes (base64): a value per grid cell, 0–255, row by row from the top.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..core import equations
from ..core.activations import get_activation
from ..core.heads import get_head
from ..core.module import PARAMETERS
from .run import Run

BOUNDARY_GRID = 64  # cells per side of the decision-boundary picture
NEURON_GRID = 32  # cells per side of each hidden unit's picture
MARGIN = 0.1  # the plane reaches this share of the data's range beyond it


def extent(run: Run) -> list[float]:
    """[x_min, x_max, y_min, y_max] of the plane, in the data's raw units."""
    raw = torch.cat([run.dm.raw_split("train")[0], run.dm.raw_split("test")[0]]).double()
    low, high = raw.min(0).values, raw.max(0).values
    pad = (high - low).clamp_min(1e-6) * MARGIN
    return [float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])]


def grid(run: Run, box: list[float], size: int) -> Tensor:
    """The network's inputs at the centres of a size × size grid over ``box``, top row first, (size², 2)."""
    x0, x1, y0, y1 = box
    xs = x0 + (torch.arange(size, dtype=torch.float64) + 0.5) * (x1 - x0) / size
    ys = y1 - (torch.arange(size, dtype=torch.float64) + 0.5) * (y1 - y0) / size
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    raw = torch.stack([X.reshape(-1), Y.reshape(-1)], 1).float()
    return run.dm.transform(raw)


def points(run: Run) -> dict[str, Any]:
    """Every point in raw units with its class and split (0 train, 1 test)."""
    X, Y = run.dm.raw_split("train")
    X_test, Y_test = run.dm.raw_split("test")
    return {
        "x": torch.cat([X, X_test]).double().round(decimals=5).tolist(),
        "label": torch.cat([Y, Y_test]).long().tolist(),
        "test": [0] * len(Y) + [1] * len(Y_test),
        "classes": [str(c) for c in run.dm.classes],
    }


def _bytes(values: Tensor) -> str:
    """Values in [0, 1] as base64 bytes (NaN as 0)."""
    q = np.nan_to_num(values.double().clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    return base64.b64encode(q.tobytes()).decode("ascii")


@torch.no_grad()
def boundary(run: Run, inputs: Tensor) -> dict[str, Any]:
    """A2 over the plane: one channel (P of the second class) or one per class, each size² bytes."""
    A2 = run.probabilities(inputs)  # (size², n2)
    return {"size": BOUNDARY_GRID, "channels": A2.shape[1], "data": _bytes(A2.t().reshape(-1))}


@torch.no_grad()
def neurons(run: Run, inputs: Tensor) -> dict[str, Any]:
    """A1 of every hidden unit over the plane, scaled by the largest |A1| into [0, 1] (0.5 is A1 = 0)."""
    A1 = equations.hidden(inputs, run.net.W1, run.net.b1, get_activation(run.net.activation))  # (size², n1)
    scale = float(A1.abs().max().nan_to_num(0).clamp_min(1e-12))
    return {
        "size": NEURON_GRID,
        "scale": scale,
        "data": [_bytes(0.5 + 0.5 * A1[:, j] / scale) for j in range(A1.shape[1])],
    }


def weights(run: Run) -> dict[str, list]:
    net = run.net
    return {name: getattr(net, name).detach().double().round(decimals=6).tolist() for name in PARAMETERS}


@torch.no_grad()
def note_equations(run: Run) -> dict[str, dict[str, Any]]:
    """The note's forward and six backward equations on all the training rows at the current
    weights (the next full-batch step), each quantity's shape and Frobenius norm.

    dZ2 = A2 − Y as in the note (no 1/m); the 1/m is in dW2, db2, dW1, db1."""
    net, X = run.net, run.X
    m, g, head = X.shape[0], get_activation(net.activation), get_head(net.output)
    Y = run.gd.Y  # dense, (m, n2)
    A1 = equations.hidden(X, net.W1, net.b1, g)  # (m, n1)
    Z2 = equations.output(A1, net.W2, net.b2)  # (m, n2)
    J = head.cost(Z2, Y)
    dZ2 = equations.output_delta(Z2, Y, head, 1.0)  # (m, n2)
    grads = equations.backward(dZ2, X, A1, net.W1, net.W2, g)
    dZ1 = g.backward(dZ2.mm(net.W2), A1)  # (m, n1), for its norm
    values = {
        "X": X, "A1": A1, "Z2": Z2, "A2": head.link(Z2), "dZ2": dZ2, "dW2": grads.dW2 / m, "db2": grads.db2 / m,
        "dZ1": dZ1, "dW1": grads.dW1 / m, "db1": grads.db1 / m,
    }  # fmt: skip
    table = {k: {"shape": list(v.shape), "norm": float(v.norm())} for k, v in values.items()}
    table["J"] = {"shape": [], "norm": float(J)}
    return table


class Plane:
    """The plane of a run: its extent and the network's inputs at the pictures' grid cells."""

    def __init__(self, run: Run) -> None:
        self.box = extent(run)
        self.boundary_inputs = grid(run, self.box, BOUNDARY_GRID)
        self.neuron_inputs = grid(run, self.box, NEURON_GRID)


def frame(run: Run, plane: Plane, since: int) -> dict[str, Any]:
    """What changed since history row ``since``: the pictures, the new curve points, the numbers."""
    return {
        "steps": run.steps,
        "cost": run.cost,
        "history": run.history[since:],
        "boundary": boundary(run, plane.boundary_inputs),
        "neurons": neurons(run, plane.neuron_inputs),
        "weights": weights(run),
        "equations": note_equations(run),
        "error": run.error,
    }


def overview(run: Run, plane: Plane) -> dict[str, Any]:
    """What a run's first frame adds: the plane's extent, the points and the run's settings."""
    return {"extent": plane.box, "points": points(run), "settings": run.settings.to_query(), "task": run.task.name}
