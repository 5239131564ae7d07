"""Batches cut from tensors held in memory: one ``tensor[idx]`` per batch, no per-sample work."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from torch import Tensor

from .batches import epoch_order


class InMemoryBatches:
    """An iterable of ``(X, Y)`` batches over tensors in memory, rank-aware for data parallelism.

    Each epoch draws one permutation of the m rows from ``seed + epoch`` (the same on
    every process), cuts it into global batches of ``batch_size`` rows, and gives
    process ``rank`` the rows ``rank::world_size`` of each global batch. So
    ``world_size`` processes with per-process batch B/world_size see exactly the
    rows one process would see with batch B, and their averaged gradients agree.

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
            self.X, self.Y = X[rank::world_size], Y[rank::world_size]  # this process's share, once

    def __len__(self) -> int:
        if self.batch_size == 0:
            return self.full_batch_steps
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.batch_size == 0:
            for _ in range(self.full_batch_steps):
                yield self.X, self.Y
            return
        yield from self.batches(self.order(self.epoch()))

    def order(self, epoch: int) -> Tensor:
        """The permutation of rows used in ``epoch``."""
        return epoch_order(len(self.X), epoch, self.seed, self.shuffle)

    def batches(self, order: Tensor, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of ``order`` from batch number ``start`` on."""
        sharded = self.world_size > 1
        for i in range(start * self.batch_size, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            if sharded:
                idx = idx[self.rank :: self.world_size]
            yield self.X.index_select(0, idx), self.Y.index_select(0, idx) if len(self.Y) else self.Y
