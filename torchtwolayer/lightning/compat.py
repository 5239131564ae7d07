"""The one place that reads a private Lightning attribute;
``tests/test_commands.py::test_compat_reads_the_launchers_start_method`` fails loudly when an
upgrade removes it."""

from __future__ import annotations

from lightning.pytorch import Trainer


def launcher_start_method(trainer: Trainer) -> str | None:
    """How the strategy's launcher starts processes (``spawn``, ``fork``, ...), None without one.
    Lightning has no public accessor; ``_MultiProcessingLauncher`` keeps it as ``_start_method``."""
    launcher = getattr(trainer.strategy, "launcher", None)
    return getattr(launcher, "_start_method", None) if launcher is not None else None


def is_spawned_worker(trainer: Trainer) -> bool:
    """Whether this process is a worker that ``ddp_spawn`` started and that owns a process group."""
    import torch.distributed as dist

    spawned = launcher_start_method(trainer) in ("spawn", "forkserver")
    return spawned and dist.is_available() and dist.is_initialized()
