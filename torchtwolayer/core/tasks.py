"""What the network is asked to predict: a task carries its head, its metrics and their inputs.

========== ========== ================================================ =====================
task       head       outputs n2                                       metrics
========== ========== ================================================ =====================
binary     sigmoid    1                                                accuracy, F1, AUROC
multiclass softmax    the number of classes                            accuracy, macro-F1
regression identity   1 (the target, standardised by the data module) MSE, R² (target units)
========== ========== ================================================ =====================

Macro-F1 is :class:`~torchtwolayer.core.metrics.MacroF1` (three counts per class), not torchmetrics'
``MulticlassF1Score``, whose classes × classes confusion matrix takes 800 MB at 10 000 classes.
Evaluation holds at most ``EVAL_OUTPUTS`` outputs at once: :func:`rows_per_chunk`.

torchmetrics is imported when metrics are first asked for, so ``import torchtwolayer`` stays light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from torch import Tensor

if TYPE_CHECKING:
    from torchmetrics import MetricCollection

AUROC_THRESHOLDS = 200  # binned AUROC: fixed memory, whatever the number of rows
EVAL_BATCH = 65536  # rows of an evaluation chunk at most ...
EVAL_OUTPUTS = 1 << 22  # ... and of outputs (rows × n_outputs): 10 000 classes get chunks of 419 rows


def rows_per_chunk(n_outputs: int, budget: int | None = None, most: int | None = None) -> int:
    """Rows to evaluate at once so that a chunk's outputs (rows × ``n_outputs``) stay within
    ``budget`` (default ``EVAL_OUTPUTS``), and at most ``most`` rows (default ``EVAL_BATCH``); at least 1.

    >>> rows_per_chunk(1), rows_per_chunk(10_000)
    (65536, 419)
    """
    budget = EVAL_OUTPUTS if budget is None else budget
    most = EVAL_BATCH if most is None else most
    return max(1, min(most, budget // max(n_outputs, 1)))


@dataclass(frozen=True)
class Task:
    """A prediction task: its output ``head`` and how its predictions are scored."""

    name: str
    head: str

    def metrics(self, n_outputs: int, sync: bool = True, ranking: bool = True) -> MetricCollection:
        """A fresh collection of the task's metrics; ``sync=False`` where one process scores a whole
        split; ``ranking=False`` leaves out AUROC, whose update costs far more than the others'
        (for metrics updated on every training step)."""
        from torchmetrics import MetricCollection
        from torchmetrics.classification import (
            BinaryAccuracy,
            BinaryAUROC,
            BinaryF1Score,
            MulticlassAccuracy,
        )
        from torchmetrics.regression import MeanSquaredError, R2Score

        from .metrics import MacroF1

        kw = {"sync_on_compute": sync}
        if self.name == "binary":
            metrics = {"acc": BinaryAccuracy(**kw), "f1": BinaryF1Score(**kw)}
            if ranking:
                metrics["auroc"] = BinaryAUROC(thresholds=AUROC_THRESHOLDS, **kw)
        elif self.name == "multiclass":
            metrics = {
                "acc": MulticlassAccuracy(n_outputs, average="micro", **kw),  # micro: no per-class state
                "f1": MacroF1(n_outputs, **kw),  # not MulticlassF1Score: its C × C matrix
            }
        else:
            metrics = {"mse": MeanSquaredError(**kw), "r2": R2Score(**kw)}
        return MetricCollection(metrics)

    def chance_cost(self, n_outputs: int) -> float:
        """J of a network that knows nothing: log 2 (binary), log n2 (multiclass), ½ (a
        standardised regression target). The scale against which a rise of J is large."""
        if self.name == "binary":
            return math.log(2)
        if self.name == "multiclass":
            return math.log(max(n_outputs, 2))
        return 0.5

    def metric_inputs(
        self, Z2: Tensor, Y: Tensor, target_mean: float = 0.0, target_std: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        """(predictions, targets) for :meth:`metrics` from the logits Z2 (m, n2) and the model's Y.

        Regression values go back to the target's units: y = mean + std · ŷ."""
        if self.name == "binary":
            return Z2[:, 0].sigmoid(), Y.long()
        if self.name == "multiclass":
            return Z2, Y
        return Z2[:, 0] * target_std + target_mean, Y * target_std + target_mean


TASKS: dict[str, Task] = {
    t.name: t for t in (Task("binary", "sigmoid"), Task("multiclass", "softmax"), Task("regression", "identity"))
}
TaskName = Literal[tuple(TASKS)]  # type: ignore[valid-type]


def get_task(name: str) -> Task:
    """The task called ``name``, or a ValueError that lists the known ones."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}: expected one of {list(TASKS)}") from None
