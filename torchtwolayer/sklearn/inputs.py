"""From scikit-learn's arrays to the network's tensors: sparse X densified once, no needless copy,
sample weights checked, and labels of mixed types named before numpy fails on them."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils import check_array
from torch import Tensor

SPARSE = ["csr", "csc"]  # validate_data's accept_sparse: formats whose rows can be taken (others become csr)


def dense(X: Any) -> np.ndarray:
    """X as a dense array: a sparse matrix becomes one dense copy, an array stays itself."""
    return X.toarray() if hasattr(X, "toarray") else X


def as_tensor(a: np.ndarray, like: Tensor) -> Tensor:
    """``a`` as a tensor of ``like``'s dtype and device, sharing ``a``'s memory where it can
    (a copy only for another dtype or device, or a read-only array)."""
    a = np.asarray(a)
    if not a.flags.writeable:
        a = a.copy()
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)


def sample_weights(sample_weight: Any, X: Any) -> np.ndarray:
    """One finite, non-negative weight per row of X, in X's dtype, not all zero."""
    w = check_array(sample_weight, ensure_2d=False, dtype=X.dtype, input_name="sample_weight")
    if w.shape != (X.shape[0],):
        raise ValueError(f"sample_weight must have shape ({X.shape[0]},), one weight per row of X; got {w.shape}")
    if (w < 0).any():
        raise ValueError("sample_weight has negative values: weights must be >= 0")
    return some_weight(w)


def some_weight(w: np.ndarray) -> np.ndarray:
    """``w``, if some row has a positive weight."""
    if not (w > 0).any():
        raise ValueError("every sample_weight of the training rows is zero: give some rows a positive weight")
    return w


def check_label_types(y: Any) -> None:
    """A ``TypeError`` naming the types when class labels mix text and numbers (``["a", 1, 2.5]``):
    numpy can neither sort them nor turn them into one type without changing some."""
    if isinstance(y, np.ndarray) and y.dtype.kind != "O":
        return  # one dtype: numbers, or text
    if hasattr(y, "dtype") and getattr(y.dtype, "kind", "O") != "O":
        return  # a pandas Series or an array-like of one numeric or text dtype
    try:
        values = np.asarray(y, dtype=object).ravel()
    except ValueError:
        return  # ragged: validate_data names it
    kinds: dict[str, tuple[str, Any]] = {}  # "text"/"number" -> (type name, an example)
    for v in values:
        kind = "text" if isinstance(v, (str, bytes)) else "number"
        kinds.setdefault(kind, (type(v).__name__, v))
        if len(kinds) == 2:
            examples = ", ".join(f"{name} {value!r}" for name, value in kinds.values())
            raise TypeError(
                f"y mixes text and non-text class labels ({examples}): give labels of one type, "
                "for instance all text with y = np.asarray(y).astype(str)"
            )
