"""Built-in 2-D data sets for learning and demos, generated from a seed with torch alone.

Each generator returns ``(X, y)``: X float32 of shape (n_samples, 2), y int64
class labels of shape (n_samples,).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..core.validation import check_allocation


def planar(n_samples: int = 400, noise: float = 0.2, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The course's "flower": two classes on the petals r = 4 sin 4t, with noise on t and r."""
    per_class = n_samples // 2
    X, y = [], []
    for j in range(2):
        t = torch.linspace(j * 3.12, (j + 1) * 3.12, per_class + (n_samples % 2) * j, dtype=torch.float64)
        t = t + torch.randn(t.shape, generator=generator, dtype=torch.float64) * noise
        r = 4 * torch.sin(4 * t) + torch.randn(t.shape, generator=generator, dtype=torch.float64) * noise
        X.append(torch.stack([r * torch.sin(t), r * torch.cos(t)], 1))
        y.append(torch.full(t.shape, j, dtype=torch.long))
    return torch.cat(X).float(), torch.cat(y)


def moons(n_samples: int = 400, noise: float = 0.1, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = torch.linspace(0, math.pi, n_out, dtype=torch.float64)
    t_in = torch.linspace(0, math.pi, n_in, dtype=torch.float64)
    outer = torch.stack([torch.cos(t_out), torch.sin(t_out)], 1)
    inner = torch.stack([1 - torch.cos(t_in), 1 - torch.sin(t_in) - 0.5], 1)
    X = torch.cat([outer, inner]) + torch.randn(n_samples, 2, generator=generator, dtype=torch.float64) * noise
    y = torch.cat([torch.zeros(n_out, dtype=torch.long), torch.ones(n_in, dtype=torch.long)])
    return X.float(), y


def circles(
    n_samples: int = 400, noise: float = 0.05, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A small circle (class 1, radius 0.5) inside a large one (class 0)."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = torch.linspace(0, 2 * math.pi, n_out + 1, dtype=torch.float64)[:-1]
    t_in = torch.linspace(0, 2 * math.pi, n_in + 1, dtype=torch.float64)[:-1]
    outer = torch.stack([torch.cos(t_out), torch.sin(t_out)], 1)
    inner = 0.5 * torch.stack([torch.cos(t_in), torch.sin(t_in)], 1)
    X = torch.cat([outer, inner]) + torch.randn(n_samples, 2, generator=generator, dtype=torch.float64) * noise
    y = torch.cat([torch.zeros(n_out, dtype=torch.long), torch.ones(n_in, dtype=torch.long)])
    return X.float(), y


def blobs(
    n_samples: int = 400, noise: float = 1.0, generator: torch.Generator | None = None, n_classes: int = 3
) -> tuple[Tensor, Tensor]:
    """``n_classes`` Gaussian blobs of standard deviation ``noise`` around centres drawn in [−10, 10]²."""
    centers = torch.rand(n_classes, 2, generator=generator, dtype=torch.float64) * 20 - 10
    y = torch.arange(n_samples) % n_classes
    X = centers[y] + torch.randn(n_samples, 2, generator=generator, dtype=torch.float64) * noise
    return X.float(), y


def gaussian_quantiles(
    n_samples: int = 400, noise: float = 1.0, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Standard normal points (scaled by ``noise``), split into two classes at the median radius."""
    X = torch.randn(n_samples, 2, generator=generator, dtype=torch.float64) * noise
    radius = X.square().sum(1)
    y = (radius > radius.median()).long()
    return X.float(), y


def xor(n_samples: int = 400, noise: float = 0.1, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Uniform points in [−1, 1]²; class 1 where the coordinates' signs differ; Gaussian jitter ``noise``."""
    X = torch.rand(n_samples, 2, generator=generator, dtype=torch.float64) * 2 - 1
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).long()
    X = X + torch.randn(n_samples, 2, generator=generator, dtype=torch.float64) * noise
    return X.float(), y


BYTES_PER_SAMPLE = 80  # at the peak of a generator: X in float64 twice (points, noise), in float32, and y

BUILTIN: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "planar": planar,
    "moons": moons,
    "circles": circles,
    "blobs": blobs,
    "gaussian_quantiles": gaussian_quantiles,
    "xor": xor,
}


def make_dataset(name: str, n_samples: int = 400, noise: float | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Generate the built-in data set ``name`` from ``seed``; ``noise=None`` keeps its default."""
    if name not in BUILTIN:
        raise ValueError(
            f"unknown data set {name!r}: expected one of {sorted(BUILTIN)} or the path of a .csv or .parquet file"
        )
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    if noise is not None and not noise >= 0:
        raise ValueError(f"noise must be 0 or more, got {noise}")
    check_allocation(f"--data.n_samples {n_samples}", n_samples * BYTES_PER_SAMPLE)
    kwargs = {} if noise is None else {"noise": noise}
    return BUILTIN[name](n_samples, generator=torch.Generator().manual_seed(seed), **kwargs)
