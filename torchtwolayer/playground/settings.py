"""A run's settings, read from the page's URL query (so that a link reproduces a run)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..core.activations import ACTIVATIONS
from ..core.initializers import INITS
from ..data.builtin import BUILTIN

MAX_HIDDEN = 32  # one picture per hidden unit: more would not fit the page
MAX_SAMPLES = 5000
MAX_SPEED = 200  # steps per frame


@dataclass(frozen=True)
class Settings:
    """Everything that fixes a run: the same settings give the same trajectory.

    Args:
        dataset: a built-in set (``planar``, ``moons``…) or the name of a CSV the server holds.
        noise: noise of a built-in set; ``None`` keeps the set's default.
        n_samples: points generated for a built-in set.
        hidden: hidden units n1.
        activation: hidden activation g.
        lr: learning rate α.
        batch: rows per step; 0 is the note's full batch.
        seed: seed of the data set, its split, the initialisation and the batch order.
        init: parameter initialisation (``course``, ``xavier``, ``kaiming``, ``pytorch``).
        speed: gradient steps between two frames while playing.
    """

    dataset: str = "planar"
    noise: float | None = None
    n_samples: int = 400
    hidden: int = 4
    activation: str = "tanh"
    lr: float = 1.2
    batch: int = 0
    seed: int = 1
    init: str = "xavier"
    speed: int = 10

    def to_query(self) -> dict[str, str]:
        """The settings as URL query values (``noise`` left out when it is the set's default)."""
        return {k: str(v) for k, v in asdict(self).items() if v is not None}


def parse_settings(query: dict[str, Any], datasets: list[str]) -> Settings:
    """Settings from a query (strings or numbers); unknown keys are ignored, bad values raise
    a ``ValueError`` that names the setting and what it accepts."""
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in query.items() if k in known and v not in (None, "")}
    try:
        settings = Settings(
            dataset=str(values.get("dataset", Settings.dataset)),
            noise=float(values["noise"]) if "noise" in values else None,
            n_samples=int(values.get("n_samples", Settings.n_samples)),
            hidden=int(values.get("hidden", Settings.hidden)),
            activation=str(values.get("activation", Settings.activation)),
            lr=float(values.get("lr", Settings.lr)),
            batch=int(values.get("batch", Settings.batch)),
            seed=int(values.get("seed", Settings.seed)),
            init=str(values.get("init", Settings.init)),
            speed=int(values.get("speed", Settings.speed)),
        )
    except ValueError as error:
        raise ValueError(f"a setting is not a number: {error}") from None
    _check(settings, datasets)
    return settings


def _check(s: Settings, datasets: list[str]) -> None:
    if s.dataset not in datasets:
        raise ValueError(f"unknown data set {s.dataset!r}: expected one of {datasets}")
    if s.noise is not None and not (math.isfinite(s.noise) and 0 <= s.noise <= 10):
        raise ValueError(f"noise must be in [0, 10], got {s.noise}")
    if not 10 <= s.n_samples <= MAX_SAMPLES:
        raise ValueError(f"n_samples must be in [10, {MAX_SAMPLES}], got {s.n_samples}")
    if not 1 <= s.hidden <= MAX_HIDDEN:
        raise ValueError(f"hidden units must be in [1, {MAX_HIDDEN}], got {s.hidden}")
    if s.activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {s.activation!r}: expected one of {list(ACTIVATIONS)}")
    if not (math.isfinite(s.lr) and s.lr > 0):
        raise ValueError(f"the learning rate must be a positive number, got {s.lr}")
    if s.batch < 0:
        raise ValueError(f"batch must be 0 (full batch) or a number of rows, got {s.batch}")
    if s.init not in INITS:
        raise ValueError(f"unknown init {s.init!r}: expected one of {list(INITS)}")
    if not 1 <= s.speed <= MAX_SPEED:
        raise ValueError(f"speed must be in [1, {MAX_SPEED}] steps per frame, got {s.speed}")


def builtin_names() -> list[str]:
    return list(BUILTIN)
