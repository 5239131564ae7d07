"""Batches cut from tensors held in memory: one ``tensor[idx]`` per batch, no per-sample work."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from torch import Tensor

from ..core.batches import epoch_order


class InMemoryBatches:
    """An iterable of ``(X, Y)`` batches over tensors in memory, rank-aware for data parallelism.

    Each epoch draws one permutation of the m rows from ``seed + epoch`` (the same on
    every process), cuts it into global batches of ``batch_size`` rows, and gives
    process ``rank`` the rows ``rank::world_size`` of each global batch. So
    ``world_size`` processes see exactly the rows one process would see with batch B.

    With several processes a batch is ``(X, Y, share)``: ``share`` = world_size · m_rank / M,
    this process's rows m_rank over the global batch's M, by which the process scales its
    mean cost. Data-parallel training averages the processes' gradients, so the scaled means
    add up to the global batch's mean even when M does not split evenly. A process left
    without rows (M < world_size) gets one row with share 0.

    ``batch_size=0`` is the note's full-batch gradient descent: the (sharded) data
    set itself is yielded ``full_batch_steps`` times per epoch, without copying, so
    an "epoch" is a block of steps rather than one step with an epoch's overhead.

    Args:
        X: inputs, (m, n0).
        Y: targets, first dimension m.
        batch_size: rows per global batch; 0 for full batch.
        shuffle: draw a new order each epoch (otherwise keep the file order).
        seed: base seed of the order.
        epoch: a callable giving the current epoch (the trainer's), for the order.
        rank, world_size: this process's place among the data-parallel processes.
        full_batch_steps: steps per epoch when ``batch_size`` is 0.
    """

    def __init__(
        self,
        X: Tensor,
        Y: Tensor,
        batch_size: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        epoch: Callable[[], int] = lambda: 0,
        rank: int = 0,
        world_size: int = 1,
        full_batch_steps: int = 1,
    ) -> None:
        self.X, self.Y = X, Y
        self.batch_size, self.shuffle, self.seed, self.epoch = batch_size, shuffle, seed, epoch
        self.rank, self.world_size, self.full_batch_steps = rank, world_size, full_batch_steps
        if batch_size == 0 and world_size > 1:
            self.full_batch_share = world_size * len(X[rank::world_size]) / len(X)
            self.X, self.Y = X[rank::world_size], Y[rank::world_size]  # this process's rows, once

    def __len__(self) -> int:
        return self.steps_per_epoch

    @property
    def steps_per_epoch(self) -> int:
        if self.batch_size == 0:
            return self.full_batch_steps
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        if self.batch_size == 0:
            batch = (self.X, self.Y) if self.world_size == 1 else (self.X, self.Y, self.full_batch_share)
            for _ in range(self.full_batch_steps):
                yield batch
            return
        yield from self.batches(self.order(self.epoch()))

    def order(self, epoch: int) -> Tensor:
        """The permutation of rows used in ``epoch``."""
        return epoch_order(len(self.X), epoch, self.seed, self.shuffle)

    def batches(self, order: Tensor) -> Iterator[tuple[Tensor, ...]]:
        """The batches of ``order``: one ``index_select`` each."""
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            if self.world_size == 1:
                yield self._rows(idx)
                continue
            mine = idx[self.rank :: self.world_size]
            share = self.world_size * len(mine) / len(idx)
            yield *self._rows(mine if len(mine) else idx[:1]), share

    def _rows(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        return self.X.index_select(0, idx), self.Y.index_select(0, idx) if len(self.Y) else self.Y
