"""Macro-F1 over many classes in memory linear in the number of classes.

torchmetrics' ``MulticlassF1Score(average="macro")`` counts a classes × classes confusion matrix on
every update (a bincount of ``target · C + pred`` with C² bins: 800 MB of int64 at C = 10 000).
F1 needs only three counts per class, so :class:`MacroF1` keeps those.

torchmetrics is imported here, so this module is imported only when metrics are asked for.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class MacroF1(Metric):
    r"""Macro-averaged F1 of a multiclass prediction, from three per-class counts.

    For each class :math:`c`, with :math:`tp_c` the rows of class :math:`c` predicted :math:`c`,
    :math:`p_c` the rows predicted :math:`c` and :math:`t_c` the rows of class :math:`c`:

    .. math::
        F1_c = \frac{2\, tp_c}{p_c + t_c}, \qquad
        \text{macro-F1} = \frac{1}{|S|} \sum_{c \in S} F1_c, \quad S = \{c : p_c + t_c > 0\}

    as ``torchmetrics.classification.MulticlassF1Score(average="macro")`` computes it: a class that
    is neither predicted nor present is left out of the mean (scikit-learn's ``f1_score(...,
    labels=range(C))`` counts it as 0 instead); a split with no rows at all scores 0.

    Args:
        num_classes: C, the number of classes.
        **kwargs: passed to :class:`torchmetrics.Metric` (``sync_on_compute`` ...).

    Shape:
        - preds: :math:`(m, C)` scores (logits or probabilities; the prediction is their argmax)
          or :math:`(m,)` predicted classes.
        - target: :math:`(m,)` classes in :math:`[0, C)`.
        - States ``tp``, ``predicted``, ``actual``: :math:`(C,)` int64 each, summed across processes.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ValueError(f"MacroF1 needs num_classes, an int of at least 2: got {num_classes!r}")
        self.num_classes = num_classes
        for name in ("tp", "predicted", "actual"):
            self.add_state(name, default=torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count one batch: ``preds`` (m, C) scores or (m,) classes, ``target`` (m,) classes."""
        C = self.num_classes
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=1)  # (m,)
        if preds.shape != target.shape:
            raise ValueError(f"MacroF1: predictions of shape {tuple(preds.shape)} for targets {tuple(target.shape)}")
        preds, target = preds.reshape(-1).long(), target.reshape(-1).long()  # (m,)
        if target.numel() and (target.min() < 0 or target.max() >= C or preds.min() < 0 or preds.max() >= C):
            raise ValueError(f"MacroF1: classes must lie in [0, {C}): got targets or predictions outside it")
        self.tp += torch.bincount(target[preds == target], minlength=C)
        self.predicted += torch.bincount(preds, minlength=C)
        self.actual += torch.bincount(target, minlength=C)

    def compute(self) -> Tensor:
        """The mean of :math:`F1_c` over the classes predicted or present (0 when there are none)."""
        denominator = self.predicted + self.actual  # (C,)
        seen = denominator > 0
        f1 = 2 * self.tp[seen].float() / denominator[seen].float()
        return f1.mean() if len(f1) else torch.zeros((), device=f1.device)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"
