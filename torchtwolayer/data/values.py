"""Cell values: how they are told apart (keys, numbers in text), written as text, and named in messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

NAMED = 5  # values a message names before it counts the rest


def label_text(value: Any) -> str:
    """A class or category value as text, exact and distinct for distinct values of one type:
    ``true``/``false`` for booleans, the shortest round-trip form for floats."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def value_key(value: Any) -> tuple[str, Any]:
    """A dictionary key that keeps True apart from 1 and "1" apart from 1, but 1 equal to 1.0
    (exactly: large integers are not rounded through float)."""
    if isinstance(value, bool | np.bool_):
        return ("bool", bool(value))
    if isinstance(value, str):
        return ("str", value)
    return ("number", value.item() if isinstance(value, np.generic) else value)


def index_table(known: Sequence[Any], levels: Sequence[Any]) -> np.ndarray:
    """For each of ``levels``, its position in ``known`` (−2 if not there), then a final −1, so
    that ``index_table(known, factor.levels)[factor.codes]`` maps a missing value (code −1) to −1.

    Shape: (len(levels) + 1,), int64.
    """
    index = {value_key(v): i for i, v in enumerate(known)}
    return np.array([index.get(value_key(v), -2) for v in levels] + [-1], dtype=np.int64)


def looks_numeric(text: str) -> bool:
    """``text`` reads as a number (``float(text)`` accepts it)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_number(value: Any) -> bool:
    """A value that is a number, or text that reads as one."""
    return not isinstance(value, str) or looks_numeric(value)


def duplicated(names: Iterable[Any]) -> list:
    """The values that occur more than once, sorted (linear in their number)."""
    return sorted(name for name, n in Counter(names).items() if n > 1)


def shorten(text: Any, limit: int = 40) -> str:
    """A cell quoted in a message: at most ``limit`` characters (a cell may be megabytes long)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def name_few(items: Sequence[Any], named: int = NAMED) -> str:
    """``items`` for a one-line message: a list of the first ``named`` (long text shortened), then how many more."""
    shown = [shorten(x) if isinstance(x, str) else x for x in items[:named]]
    return f"{shown!r}" if len(items) <= named else f"{shown!r} and {len(items) - named} more"
