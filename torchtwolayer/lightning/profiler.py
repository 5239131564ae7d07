"""The Trainer's profiler for the command: records nothing, as Lightning's default, at no cost per call."""

from __future__ import annotations

import contextlib

from lightning.pytorch.profilers import PassThroughProfiler

NOTHING = contextlib.nullcontext()


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler (``PassThroughProfiler``, which records nothing) without the
    cost of its context manager.

    Lightning enters ``trainer.profiler.profile(...)`` around every hook of the module, of the
    strategy and of each callback: about 40 times a batch with the command's callbacks. The
    default's ``profile`` makes a generator-based context manager each time (about 1.8 µs on a
    2020s x86_64 core); this one returns the same ``contextlib.nullcontext``. The command uses it
    unless ``--trainer.profiler`` names another (``simple``, ``advanced``, ``pytorch``); in Python,
    ``Trainer(profiler=NoProfiler())``.
    """

    def profile(self, action_name: str) -> contextlib.nullcontext:
        """A context that does nothing (``action_name`` is not recorded)."""
        return NOTHING
