"""One reader on one file, alone in a process: seconds and peak RSS
(``python -m scripts.benchmark.data_child READER PATH``, one JSON line)."""

from __future__ import annotations

from .common import child_main
from .data import measure_here


def measure(reader: str, path: str) -> dict:
    return measure_here(reader, path)


if __name__ == "__main__":
    child_main(measure)
