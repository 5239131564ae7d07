"""The one divergence rule, shared by the command, :class:`GradientDescent` users and the estimators.

Training has diverged when the cost J is not finite, or when it is above
:data:`DIVERGENCE_FACTOR` times its reference: the larger of the run's first cost and the chance
cost of the task (what predicting the prior would cost), so that a run that starts badly is not
stopped for improving slowly.
"""

from __future__ import annotations

import math

DIVERGENCE_FACTOR = 100.0


class DivergenceError(ValueError):
    """The cost became non-finite or rose far above its start: training stopped, the last good weights kept."""


def divergence_bound(first_cost: float, chance_cost: float) -> float:
    """The highest cost that is not divergence: ``DIVERGENCE_FACTOR × max(first_cost, chance_cost)``."""
    return DIVERGENCE_FACTOR * max(first_cost, chance_cost)


def has_diverged(cost: float, bound: float) -> bool:
    """``cost`` is non-finite, or above ``bound`` (from :func:`divergence_bound`)."""
    return not math.isfinite(cost) or cost > bound


def divergence_message(where: str, cost: float, bound: float, lr: float, lr_flag: str = "lr") -> str:
    """One sentence naming what happened and the fix: the learning rate ``lr_flag`` ten times smaller.

    >>> print(divergence_message("by step 8", float("nan"), 69.3, 0.3, "--model.lr"))  # doctest: +NORMALIZE_WHITESPACE
    training diverged by step 8: the cost J is nan (the limit is 69.3).
    The learning rate lr=0.3 is too large for this problem; try --model.lr 0.03.
    """
    return (
        f"training diverged {where}: the cost J is {cost:.4g} (the limit is {bound:.4g}). "
        f"The learning rate lr={lr:g} is too large for this problem; try {lr_flag} {lr / 10:g}."
    )
