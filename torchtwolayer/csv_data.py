"""Reading a user's CSV file of numeric columns, with errors that name the problem and the fix."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class CSVFormatError(ValueError):
    """The CSV file cannot be used as it is; the message says why and what to change."""


@dataclass(frozen=True)
class Table:
    """A numeric table: ``columns`` names, ``values`` float64 of shape (rows, len(columns))."""

    path: Path
    columns: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name)]


def read_header(path: str | Path) -> list[str]:
    """The column names of ``path`` (first line), checked for emptiness and duplicates."""
    path = _existing(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), None)
    return _check_header(path, header)


def read_table(path: str | Path) -> Table:
    """Every column of ``path`` parsed as float64; NaN, inf, text and ragged rows are errors."""
    path = _existing(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        columns = _check_header(path, next(reader, None))
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue  # blank line
            if len(row) != len(columns):
                raise CSVFormatError(
                    f"{path}: line {line_no} has {len(row)} fields but the header has {len(columns)} "
                    f"columns; every row needs one value per column"
                )
            rows.append(row)
    if not rows:
        raise CSVFormatError(f"{path}: no data rows below the header; the file needs at least one example")
    values = np.empty((len(rows), len(columns)), dtype=np.float64)
    bad: dict[str, str] = {}
    for j, name in enumerate(columns):
        for i, row in enumerate(rows):
            cell = row[j].strip()
            try:
                values[i, j] = float(cell)
            except ValueError:
                bad.setdefault(name, f"{cell!r} on line {i + 2}" if cell else f"an empty cell on line {i + 2}")
                continue
            if not math.isfinite(values[i, j]):
                raise CSVFormatError(
                    f"{path}: column {name!r} has {cell!r} on line {i + 2}; remove or impute "
                    "missing and infinite values before training"
                )
    if bad:
        listing = "; ".join(f"{name!r} (first: {where})" for name, where in bad.items())
        raise CSVFormatError(
            f"{path}: only numeric columns can be used, but these are not numeric: {listing}. "
            "Encode them as numbers, or leave them out with --data.features"
        )
    return Table(path, columns, values)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist; check the path given to --data.dataset")
    if path.stat().st_size == 0:
        raise CSVFormatError(f"{path}: the file is empty; it needs a header line and at least one data row")
    return path


def _check_header(path: Path, header: list[str] | None) -> list[str]:
    if not header or all(not h.strip() for h in header):
        raise CSVFormatError(f"{path}: the first line must be a header naming the columns")
    columns = [h.strip() for h in header]
    if any(not c for c in columns):
        raise CSVFormatError(f"{path}: column {columns.index('') + 1} of the header has no name")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise CSVFormatError(f"{path}: duplicated column names {duplicated}; give every column its own name")
    return columns
