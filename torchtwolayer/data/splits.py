"""Splitting labelled rows into train, validation and test (numpy only): at random, or stratified by class."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

Permute = Callable[[int], np.ndarray]  # n → a random permutation of range(n), from the caller's seeded generator
log = logging.getLogger(__name__)


def split_rows(
    labels: np.ndarray, n_val: int, n_test: int, permute: Permute, stratify: bool = False
) -> list[np.ndarray]:
    """The positions of ``labels`` in each split (train, val, test), each in order.

    Args:
        labels: one value per labelled row (class indices when ``stratify``).
        n_val, n_test: rows of the validation and test splits.
        permute: the random permutations (one call, or one per class when stratified).
        stratify: each class in proportion (largest remainders), keeping at least one training row of each.
    """
    m = len(labels)
    if stratify:
        part = _stratified(labels, n_val, n_test, permute)
    else:
        order = permute(m)
        part = np.zeros(m, dtype=np.int8)  # 0 train, 1 val, 2 test
        part[order[m - n_val - n_test : m - n_test]], part[order[m - n_test :]] = 1, 2
    return [np.flatnonzero(part == k) for k in range(3)]  # each in order


def _stratified(labels: np.ndarray, n_val: int, n_test: int, permute: Permute) -> np.ndarray:
    """Each row's split (0 train, 1 val, 2 test), each class in proportion (largest remainders)
    and keeping at least one training row."""
    sizes = np.bincount(labels)
    present = np.flatnonzero(sizes)
    val, test = np.zeros_like(sizes), np.zeros_like(sizes)
    val[present], test[present] = apportion(n_val, sizes[present]), apportion(n_test, sizes[present])
    over = np.maximum(val + test - (sizes - 1), 0)  # keep a training row of each class
    cut = np.minimum(test, over)
    test, val = test - cut, val - (over - cut)
    part = np.zeros(len(labels), dtype=np.int8)
    order = np.argsort(labels, kind="stable")  # the rows of each class, in order: linear in classes
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for c in present:
        rows = order[starts[c] : starts[c + 1]]
        rows = rows[permute(len(rows))]
        n_train = sizes[c] - val[c] - test[c]
        part[rows[n_train : n_train + val[c]]], part[rows[n_train + val[c] :]] = 1, 2
    return part


def apportion(total: int, sizes: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``sizes``: floors, then one more to the largest remainders."""
    quota = total * sizes / sizes.sum()
    share = np.floor(quota).astype(np.int64)
    extra = np.argsort(-(quota - share), kind="stable")[: total - share.sum()]
    share[extra] += 1
    return share


def warn_missing_classes(labels: np.ndarray, train: np.ndarray, n_classes: int) -> None:
    """Warn when the training rows lack classes that other rows have."""
    present = np.count_nonzero(np.bincount(labels[train], minlength=n_classes))
    total = np.count_nonzero(np.bincount(labels, minlength=n_classes))
    if present < total:
        log.warning(
            f"warning: the training split holds {present} of the {total} classes; the model cannot "
            "learn the others. Stratified splitting (--data.stratify true, the default) keeps every class in it"
        )
