"""The ``Table``: a data set's columns read through Apache Arrow, values handed out as numpy arrays.

Values come out column by column, converted inside Arrow, never through Python objects:
numbers as float32 blocks of rows (:meth:`Table.float_blocks`) or one float64 column
(:meth:`Table.numbers`); text, booleans and categories as codes into their distinct values
(:meth:`Table.factor`). A missing value is a blank cell, one of Arrow's null spellings (``NA``,
``nan``, ``null``, ...) or a NaN. The readers of files are :mod:`.csv_reader` and
:mod:`.parquet_reader`; :func:`~torchtwolayer.data.tables.open_table` picks one.

pyarrow is imported when a table is made, never by ``import torchtwolayer``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .values import NAMED, duplicated, name_few

BLOCK_ROWS = 65536  # rows per block of numbers handed out at once
PART_BYTES = 16 << 20  # a file is read in parts of about this size: all cores, yet little memory


class CSVFormatError(ValueError):
    """The data file cannot be used as it is; the message says why and what to change."""


@dataclass(frozen=True)
class Factor:
    """A column as codes into its distinct values: ``levels[codes[i]]`` is row i's value, −1 missing.

    ``levels`` keep their own Python type (str, int, float or bool), in the order Arrow met them.
    """

    codes: np.ndarray  # int64, (m,)
    levels: list


def kind_of(arrow_type: Any) -> str:
    """``number``, ``integer``, ``boolean``, ``text``, ``category`` (an Arrow dictionary), ``empty``
    (every value missing), ``binary`` (bytes that are not UTF-8 text), or the type's own name."""
    import pyarrow as pa

    t = pa.types
    checks = (
        ("integer", t.is_integer),
        ("number", lambda x: t.is_floating(x) or t.is_decimal(x)),
        ("boolean", t.is_boolean),
        ("text", lambda x: t.is_string(x) or t.is_large_string(x) or getattr(t, "is_string_view", _no)(x)),
        ("category", t.is_dictionary),
        ("empty", t.is_null),
        ("binary", lambda x: t.is_binary(x) or t.is_large_binary(x) or getattr(t, "is_binary_view", _no)(x)),
    )
    return next((name for name, check in checks if check(arrow_type)), str(arrow_type))


def check_unique_names(path: str, names: Sequence[str]) -> None:
    """Refuse a header that names a column twice."""
    twice = duplicated(names)
    if twice:
        raise CSVFormatError(f"{path}: duplicated column names {twice}; give every column its own name")


class Table:
    """A data set's columns: names at once, values of the loaded columns on demand.

    Made by :func:`open_table` (a file) or :func:`from_arrays` (arrays in memory).

    Attributes:
        path: where the data comes from (a file, a directory, or a description).
        names: the column names, in the file's order.
    """

    def __init__(self, path: str, names: list[str]) -> None:
        self.path, self.names = path, names
        self._loaded: list[str] = []

    def load(self, columns: Iterable[str], numbers: Iterable[str] = (), read_once: bool = False) -> Table:
        """Read only ``columns``; ``numbers`` are those meant as numbers (a CSV reads them as
        float32 straight away where its first rows look numeric). ``read_once``: the numbers
        will be read once, by :meth:`float_blocks`, which may free them as it goes (a CSV's).
        Returns ``self``."""
        self._loaded = list(dict.fromkeys(columns))
        return self

    @property
    def num_rows(self) -> int:
        raise NotImplementedError

    def require(self, names: Sequence[str], why: str = "") -> None:
        """Refuse, in one line, feature columns that are not in the table: the missing ones, ``why``
        they are needed, and the columns the table has."""
        present = set(self.names)
        missing = [name for name in names if name not in present]
        if missing:
            raise self._not_found(f"feature columns {name_few(missing)}", why)

    def require_target(self, name: str) -> None:
        """Refuse a target column that is not in the table."""
        if name not in self.names:
            raise self._not_found(f"target column {name!r}", "", ". Name the target with --data.target")

    def _not_found(self, what: str, why: str, fix: str = "") -> CSVFormatError:
        return CSVFormatError(
            f"{self.path}: {what} not found{why}; the file has columns {name_few(self.names, 2 * NAMED)}{fix}"
        )

    def kind(self, name: str) -> str:
        """The column's kind (see :func:`kind_of`)."""
        return kind_of(self._type(name))

    def factor(self, name: str) -> Factor:
        """The column as codes into its distinct values (NaN counts as missing)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        col = self._column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        levels = pc.unique(col).drop_null()
        codes = pc.index_in(col, value_set=levels).fill_null(-1)
        return Factor(codes.to_numpy().astype(np.int64), levels.to_pylist())

    def numbers(self, name: str) -> np.ndarray:
        """The column as float64, NaN for a missing value (booleans as 0 and 1)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        col = pc.cast(self._column(name), pa.float64(), safe=False)
        return col.to_numpy()

    def count_distinct(self, name: str) -> int:
        """Distinct values, missing values left out."""
        import pyarrow.compute as pc

        return pc.count_distinct(self._column(name)).as_py()

    def float_blocks(self, names: list[str], rows: int = BLOCK_ROWS) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(first row, first column, block)``: ``block`` is float32 of shape (≤ rows, ≤ len(names)),
        the values of ``names[first column:]`` in those rows, NaN where a value is missing. Each
        column is converted by Arrow (an int64 or float64 column goes to float32 directly; a value
        beyond float32's range becomes ±inf). Together the blocks cover every row and column once;
        for each column, in row order."""
        import pyarrow as pa
        import pyarrow.compute as pc

        for start, first, batch in self._batches(names, rows):
            block = np.empty((batch.num_rows, batch.num_columns), dtype=np.float32)
            for j in range(batch.num_columns):
                column = pc.cast(batch.column(j), pa.float32(), safe=False)
                block[:, j] = column.to_numpy(zero_copy_only=False)
            yield start, first, block

    # What each source provides: an Arrow column, the Arrow type, batches of columns.
    def _column(self, name: str) -> Any:
        raise NotImplementedError

    def _type(self, name: str) -> Any:
        raise NotImplementedError

    def _batches(self, names: list[str], rows: int) -> Iterator[tuple[int, int, Any]]:
        """``(first row, first column, record batch)`` covering ``names``."""
        raise NotImplementedError


class InMemoryTable(Table):
    """An Arrow table in memory (a CSV file once loaded, or arrays)."""

    def __init__(self, path: str, table: Any) -> None:
        super().__init__(path, list(table.column_names))
        self._table = table

    @property
    def num_rows(self) -> int:
        return self._table.num_rows

    def _column(self, name: str) -> Any:
        return self._table.column(name)

    def _type(self, name: str) -> Any:
        return self._table.schema.field(name).type

    def _batches(self, names: list[str], rows: int) -> Iterator[tuple[int, int, Any]]:
        start = 0
        for batch in self._table.select(names).to_batches(max_chunksize=rows):
            yield start, 0, batch
            start += batch.num_rows


def from_arrays(columns: Mapping[str, np.ndarray], description: str = "arrays") -> Table:
    """A :class:`Table` over numpy arrays of equal length (one per column)."""
    import pyarrow as pa

    return InMemoryTable(description, pa.table({name: np.asarray(v) for name, v in columns.items()}))


def _no(arrow_type: Any) -> bool:  # a type check this pyarrow lacks
    return False
