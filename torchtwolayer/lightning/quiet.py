"""Lightning's info lines (seed, accelerators, adverts) kept quiet unless asked for: the one rule
for every command that runs a Trainer. Uses only :mod:`logging`, so importing it imports no Lightning."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")


@contextmanager
def lightning_output(verbosity: int) -> Iterator[None]:
    """Lightning's info lines only with ``verbosity > 0`` (``-v``); levels restored on the way out.
    Enter it after Lightning's import, which sets the levels itself."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    if verbosity <= 0:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
