"""How many CPU threads a computation gets: one rule, applied in a scope.

torch runs one thread per core by default. For small work that is slower, not faster: waking a
second thread costs more than the work, and on a busy machine every parallel region waits for a
thread the scheduler has parked, so a step can take a hundred times longer. One thread barely
notices a competing process. So a step of fewer than :data:`WORK_PER_THREAD` multiply-adds runs
on one thread, and larger work keeps torch's count (``python -m scripts.benchmark --sections busy``
measures both).

A scope around one call inside a loop the package does not own (``net.cost`` in a user's loop, the
Functions) pays for itself only up to :data:`CALL_WORK_PER_THREAD`: the user's own operations
(gathering the batch, the optimizer) keep torch's count around it, so the count goes down and back up
every call, and above that size the switches cost more than one thread saves, on a quiet machine and
beside a busy process alike (measured on the user-loop benchmark, batch 1024 of 32 → 64 units: with
the switches autograd's own loop drops from 1.06 to 0.97 M samples/s; the package's loop beside a
CPU-bound process, 0.43 M samples/s with them, 0.58 M without).

The rule stands aside whenever the user chose a thread count (``torch.set_num_threads``,
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``), and it is scoped: the count in force before is
restored on the way out, even after an error.
"""

from __future__ import annotations

import os

import torch

WORK_PER_THREAD = 1 << 26  # multiply-adds of one step: below, one thread
CALL_WORK_PER_THREAD = 1 << 22  # the same for one call inside a loop the package does not own

_USER_ENVIRONMENT = any(v in os.environ for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))  # read once, as OpenMP does


def _torch_default_threads() -> int:
    """The count torch starts with: one per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_TORCH_DEFAULT = _torch_default_threads()


def user_chose_threads() -> bool:
    """Whether the user set a thread count: an environment variable, or a count other than torch's default."""
    return _USER_ENVIRONMENT or torch.get_num_threads() != _TORCH_DEFAULT


def step_work(m: int, n0: int, n1: int, n2: int) -> int:
    """Multiply-adds of one training step of the network: three products per layer (forward, two backward)."""
    return 3 * m * n1 * (n0 + n2)


class threads_for:  # noqa: N801  (a context manager, named like one)
    """Run the block on one thread if ``work`` (multiply-adds per step) is below ``limit`` and on the
    CPU (``limit``: :data:`CALL_WORK_PER_THREAD` for one call inside another's loop).

    A class rather than a generator: it wraps every call of the Functions, and costs well under a
    microsecond when it has nothing to do.

    Example:
        >>> import torch
        >>> from torchtwolayer.core.threads import threads_for, user_chose_threads
        >>> before = torch.get_num_threads()
        >>> with threads_for(1000):
        ...     inside = torch.get_num_threads()
        >>> inside == (before if user_chose_threads() else 1), torch.get_num_threads() == before
        (True, True)
    """

    __slots__ = ("_before", "_device", "_limit", "_work")

    def __init__(self, work: int, device: torch.device | str = "cpu", limit: int = WORK_PER_THREAD) -> None:
        self._work, self._device, self._limit, self._before = work, device, limit, 0

    def __enter__(self) -> None:
        before = torch.get_num_threads()
        if (
            before > 1
            and self._work < self._limit
            and not _USER_ENVIRONMENT
            and before == _TORCH_DEFAULT
            and torch.device(self._device).type == "cpu"
        ):
            torch.set_num_threads(1)
            self._before = before

    def __exit__(self, *exc: object) -> None:
        if self._before:
            torch.set_num_threads(self._before)
            self._before = 0
