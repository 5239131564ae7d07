"""The order in which an epoch visits the rows: one rule for every trainer in the package.

Epoch ``e`` visits the rows in the permutation drawn from ``seed + e``, so the order depends on the
seed and the epoch number alone: an interrupted run resumed at epoch ``e`` sees the batches the
uninterrupted one saw, and two trainers given the same seed see the same batches.
"""

from __future__ import annotations

import torch
from torch import Tensor


def epoch_order(m: int, epoch: int, seed: int = 0, shuffle: bool = True, out: Tensor | None = None) -> Tensor:
    """The permutation of ``range(m)`` used in ``epoch`` (written into ``out`` when given).

    Example:
        >>> from torchtwolayer.core.batches import epoch_order
        >>> epoch_order(5, epoch=0, shuffle=False).tolist()
        [0, 1, 2, 3, 4]
        >>> bool((epoch_order(5, epoch=3, seed=1) == epoch_order(5, epoch=3, seed=1)).all())
        True
    """
    if not shuffle:
        return torch.arange(m, out=out)
    return torch.randperm(m, generator=torch.Generator().manual_seed(seed + epoch), out=out)
