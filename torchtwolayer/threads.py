"""How many CPU threads a computation gets: one rule, applied in a scope.

torch runs one thread per core by default. For small work that is slower, not faster: waking a
second thread costs more than the work, and on a busy machine every parallel region waits for a
thread the scheduler has parked (a tiny training loop measured 6–10× slower beside one competing
process, against barely slower on one thread). So work below :data:`WORK_PER_THREAD`
multiply-adds per step runs on one thread, and larger work keeps torch's count.

The rule stands aside whenever the user chose a thread count (``torch.set_num_threads``,
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``), and it is scoped: the count in force before is
restored on the way out, even after an error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

WORK_PER_THREAD = 1 << 22  # multiply-adds of one step: below, a second thread does not pay
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _torch_default_threads() -> int:
    """The count torch starts with: one per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def user_chose_threads() -> bool:
    """Whether the user set a thread count: an environment variable, or a count other than torch's default."""
    return any(v in os.environ for v in _THREAD_VARIABLES) or torch.get_num_threads() != _torch_default_threads()


def step_work(m: int, n0: int, n1: int, n2: int) -> int:
    """Multiply-adds of one training step of the network: three products per layer (forward, two backward)."""
    return 3 * m * n1 * (n0 + n2)


@contextlib.contextmanager
def threads_for(work: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block on one thread if ``work`` (multiply-adds per step) is small and on the CPU.

    Example:
        >>> import torch
        >>> from torchtwolayer.threads import threads_for
        >>> before = torch.get_num_threads()
        >>> with threads_for(1000):
        ...     inside = torch.get_num_threads()
        >>> inside == (before if before == 1 or user_chose_threads() else 1), torch.get_num_threads() == before
        (True, True)
    """
    before = torch.get_num_threads()
    one = torch.device(device).type == "cpu" and work < WORK_PER_THREAD and before > 1 and not user_chose_threads()
    if one:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if one:
            torch.set_num_threads(before)
