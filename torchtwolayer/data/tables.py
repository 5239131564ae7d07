"""Reading data files through Apache Arrow, with errors that name the file, the problem and the fix.

Formats: CSV (``.csv``, also compressed as Arrow detects from the name, e.g. ``.csv.gz``) and
Parquet (a ``.parquet`` file, or a directory of them read in name order).

:func:`open_table` checks the path and reads the column names (for a CSV, its first block);
:meth:`Table.load` reads only the columns asked for. Values then come out as numpy arrays,
converted column by column inside Arrow, never through Python objects: numbers as float32
blocks of rows (:meth:`Table.float_blocks`) or one float64 column (:meth:`Table.numbers`);
text, booleans and categories as codes into their distinct values (:meth:`Table.factor`).
A missing value is a blank cell, one of Arrow's null spellings (``NA``, ``nan``, ``null``, ...)
or a NaN.

Memory stays near twice the float32 matrix: a CSV is read in parts of ``PART_BYTES`` by Arrow's
multi-threaded reader (its one-shot reader holds about the whole file besides), numbers as
float32; a Parquet file's numbers are read row group by row group, a few columns at a time.

pyarrow is imported when a table is opened, never by ``import torchtwolayer``.
"""

from __future__ import annotations

import contextlib
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PARQUET_SUFFIXES = (".parquet", ".pq")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zst", ".lz4", ".br")
BLOCK_ROWS = 65536  # rows per block of numbers handed out at once
PART_BYTES = 16 << 20  # a CSV is read in parts of this size: all cores, yet little memory
SEPARATORS = {";": "';'", "\t": "'\\t'", "|": "'|'", ",": "','"}  # other separators, and how to pass them


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


class _InMemory(Table):
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

    return _InMemory(description, pa.table({name: np.asarray(v) for name, v in columns.items()}))


class _CSV(Table):
    """A CSV file: the header and first-block types at once, the columns when loaded."""

    def __init__(self, path: Path, delimiter: str, head: bytes) -> None:
        super().__init__(str(path), [])
        self.file, self.delimiter = path, delimiter
        self._data: _InMemory | None = None
        self._numbers: list[Any] = []  # the float32 numbers, one Arrow table per part of the file
        self._rows = 0
        self._read_once = False
        self._check_separator(head.split(b"\n", 1)[0].decode("utf-8", errors="replace"))
        self._peeked = self._peek()
        self.names = list(self._peeked.names)
        self._check_header()

    def _options(self, **convert: Any) -> tuple[Any, Any, Any]:
        import pyarrow.csv as pacsv

        return (
            pacsv.ReadOptions(use_threads=True),
            pacsv.ParseOptions(delimiter=self.delimiter),
            pacsv.ConvertOptions(strings_can_be_null=True, **convert),
        )

    def _check_separator(self, header: str) -> None:
        """A header without the delimiter but with another separator: say which flag reads it."""
        hidden = [sep for sep in SEPARATORS if sep in header and sep != self.delimiter]
        if self.delimiter not in header and hidden:
            raise CSVFormatError(
                f"{self.path}: the header {header.strip()!r} has no {self.delimiter!r}, but the file looks separated "
                f"by {SEPARATORS[hidden[0]]}; pass --data.delimiter {SEPARATORS[hidden[0]]}"
            )

    def _peek(self) -> Any:
        """The header and the types Arrow infers from the first block."""
        import pyarrow.csv as pacsv

        read, parse, convert = self._options()
        try:
            with pacsv.open_csv(self.file, read_options=read, parse_options=parse, convert_options=convert) as reader:
                return reader.schema
        except UnicodeDecodeError:
            raise CSVFormatError(f"{self.path}: the header is not UTF-8 text; save the file as UTF-8") from None
        except Exception as error:  # pyarrow's errors: ArrowInvalid, ArrowException, OSError
            raise self._error(error) from None

    def _check_header(self) -> None:
        names = self.names
        if all(_looks_numeric(n) for n in names):
            raise CSVFormatError(
                f"{self.path}: the first line must be a header naming the columns, but "
                f"{self.delimiter.join(names)!r} looks like data; add a header line"
            )
        duplicated = sorted({c for c in names if names.count(c) > 1})
        if duplicated:
            raise CSVFormatError(f"{self.path}: duplicated column names {duplicated}; give every column its own name")

    def load(self, columns: Iterable[str], numbers: Iterable[str] = (), read_once: bool = False) -> Table:
        """Read ``columns`` in one pass, part by part; ``numbers`` that look numeric in the first
        block are read as float32 straight away, and kept apart, part by part, so that with
        ``read_once`` each part is freed once :meth:`float_blocks` has handed it out."""
        import pyarrow as pa

        super().load(columns)
        self._read_once = read_once
        numeric_start = {"integer", "number", "empty"}
        as_float = self._float32(c for c in numbers if kind_of(self._peeked.field(c).type) in numeric_start)
        others = [c for c in self._loaded if c not in as_float]
        try:
            parts = list(self._parts(self._loaded, as_float))
            self._rows = sum(part.num_rows for part in parts)
            self._numbers = [part.select(list(as_float)) for part in parts]
            rest = [part.select(others) for part in parts]
            del parts
        except Exception as error:  # a float32 column with text further down: infer from the whole file
            if _converting_column(error, self.names) is None:
                raise self._error(error) from None
            rest = None
        try:  # each part inferred its own types: an integer part and a float part give floats
            self._data = _InMemory(self.path, pa.concat_tables(rest, promote_options="permissive"))
        except (TypeError, ValueError, pa.ArrowException):  # text in one part, numbers in another
            self._numbers = []
            self._data = self._read_whole(self._loaded, as_float)
        for name in self._loaded:
            if self.kind(name) == "binary":
                raise CSVFormatError(
                    f"{self.path}: column {name!r} is not UTF-8 text (the file may be Latin-1 or Windows-1252); "
                    "save it as UTF-8"
                )
        return self

    @staticmethod
    def _float32(columns: Iterable[str]) -> dict[str, Any]:
        import pyarrow as pa

        return {c: pa.float32() for c in columns}

    def _reader(self, columns: list[str], column_types: dict[str, Any]) -> Any:
        import pyarrow.csv as pacsv

        read, parse, convert = self._options(include_columns=columns, column_types=column_types)
        return pacsv.open_csv(self.file, read_options=read, parse_options=parse, convert_options=convert)

    def _parts(self, columns: list[str], column_types: dict[str, Any]) -> Iterator[Any]:
        """``columns`` as Arrow tables, one per part of the file: byte ranges of about
        ``PART_BYTES`` cut at line ends, each read by Arrow's multi-threaded reader (a compressed
        file cannot be cut: it is streamed block by block)."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if self.file.suffix.lower() in COMPRESSED_SUFFIXES:
            with self._reader(columns, column_types) as reader:
                for batch in reader:
                    yield pa.Table.from_batches([batch])
            return
        read = pacsv.ReadOptions(use_threads=True, column_names=self.names)
        _, parse, convert = self._options(include_columns=columns, column_types=column_types)
        for data in self._ranges():
            yield pacsv.read_csv(pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert)

    def _ranges(self) -> Iterator[bytes]:
        """The file below its header, in pieces of about ``PART_BYTES`` ending at line ends."""
        with self.file.open("rb") as f:
            f.readline()  # the header
            start, size = f.tell(), self.file.stat().st_size
            while start < size:
                f.seek(start + PART_BYTES)
                f.readline()  # to the end of the line cut
                end = min(f.tell(), size) if start + PART_BYTES < size else size
                f.seek(start)
                yield f.read(end - start)
                start = end

    def _read_whole(self, columns: list[str], column_types: dict[str, Any]) -> _InMemory:
        """Read with types inferred from every block; a column read as float32 that holds text
        further down is read again as text."""
        import pyarrow.csv as pacsv

        column_types = dict(column_types)
        while True:
            read, parse, convert = self._options(include_columns=columns, column_types=column_types)
            try:
                table = pacsv.read_csv(self.file, read_options=read, parse_options=parse, convert_options=convert)
                return _InMemory(self.path, table)
            except Exception as error:
                column = _converting_column(error, self.names)
                if column not in column_types:
                    raise self._error(error) from None
                del column_types[column]

    def _error(self, error: BaseException) -> CSVFormatError:
        """Arrow's error, said for this file."""
        message = str(error)
        ragged = re.search(r"Expected (\d+) columns, got (\d+)", message)
        if ragged:
            line = self._first_ragged_line()
            where = f"line {line}" if line is not None else "a line"
            return CSVFormatError(
                f"{self.path}: {where} has {ragged.group(2)} fields but the header has {ragged.group(1)} columns; "
                "every row needs one value per column (a quoted value with a line break in it is not supported)"
            )
        if "straddling object" in message:
            return CSVFormatError(
                f"{self.path}: a line is longer than the reader's 1 MiB block (a cell holding a very long text?); "
                "shorten it or leave that content out of the file"
            )
        if "Empty CSV file" in message:
            return CSVFormatError(f"{self.path}: the file is empty; it needs a header line and at least one data row")
        return CSVFormatError(f"{self.path}: cannot be read as CSV: {message}")

    def _first_ragged_line(self) -> int | None:
        """The line number of the first row with a wrong number of fields (a second, serial read)."""
        import pyarrow.csv as pacsv

        found: list[int | None] = []

        def record(row: Any) -> str:
            found.append(row.number)
            return "error"

        read = pacsv.ReadOptions(use_threads=False)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=record)
        convert = pacsv.ConvertOptions(include_columns=self.names[:1])  # one column (all if the header is unread)
        with contextlib.suppress(Exception):  # the handler's "error" stops the read at that row
            pacsv.read_csv(self.file, read_options=read, parse_options=parse, convert_options=convert)
        return found[0] if found else None

    @property
    def num_rows(self) -> int:
        return self._rows if self._numbers else self._table_data().num_rows

    def _table_data(self) -> _InMemory:
        if self._data is None:
            raise RuntimeError("load() the columns first")
        return self._data

    def _column(self, name: str) -> Any:
        import pyarrow as pa

        if self._numbers and name in self._numbers[0].column_names:
            return pa.chunked_array([c for part in self._numbers for c in part.column(name).chunks], pa.float32())
        return self._table_data()._column(name)

    def _type(self, name: str) -> Any:
        if self._numbers and name in self._numbers[0].column_names:
            return self._numbers[0].schema.field(name).type
        return self._table_data()._type(name) if self._data is not None else self._peeked.field(name).type

    def _batches(self, names: list[str], rows: int) -> Iterator[tuple[int, int, Any]]:
        """Batches of ``names``, part by part: the float32 numbers of the part beside the other
        columns' rows; with ``read_once``, each part of numbers freed once handed out."""
        import pyarrow as pa

        if not self._numbers:
            yield from self._table_data()._batches(names, rows)
            return
        table, start = self._table_data()._table, 0
        for i, part in enumerate(self._numbers):
            if part is None:
                raise RuntimeError("the numbers were read once already (load(read_once=True))")
            for batch in part.to_batches(max_chunksize=rows):
                rest = table.slice(start, batch.num_rows)
                columns = [
                    batch.column(c) if c in part.column_names else rest.column(c).combine_chunks() for c in names
                ]
                yield start, 0, pa.RecordBatch.from_arrays(columns, names=names)
                start += batch.num_rows
            if self._read_once:
                self._numbers[i] = part = batch = None
                pa.default_memory_pool().release_unused()  # mimalloc keeps freed memory otherwise


class _Parquet(Table):
    """A Parquet file or a directory of them: columns read when asked, numbers a row group at a time."""

    def __init__(self, path: Path, files: list[str]) -> None:
        import pyarrow.dataset as ds

        super().__init__(str(path), [])
        self.file, self.files = path, files
        try:
            self._dataset = ds.dataset(files, format="parquet")
            names = list(self._dataset.schema.names)
        except Exception as error:
            raise self._error(error) from None
        self.names = names
        duplicated = sorted({c for c in names if names.count(c) > 1})
        if duplicated:
            raise CSVFormatError(f"{self.path}: duplicated column names {duplicated}; give every column its own name")

    def _error(self, error: BaseException) -> CSVFormatError:
        return CSVFormatError(f"{self.path}: cannot be read as Parquet: {error}")

    @property
    def num_rows(self) -> int:
        try:
            return self._dataset.count_rows()
        except Exception as error:
            raise self._error(error) from None

    def _column(self, name: str) -> Any:
        try:
            return self._dataset.to_table(columns=[name]).column(0)
        except Exception as error:
            raise self._error(error) from None

    def _type(self, name: str) -> Any:
        return self._dataset.schema.field(name).type

    def _batches(self, names: list[str], rows: int) -> Iterator[tuple[int, int, Any]]:
        """Row group by row group, a few columns at a time: Arrow decodes a whole row group of
        the columns asked for, so asking for about ``PART_BYTES`` of them at once bounds the memory."""
        import pyarrow.parquet as pq

        start = 0
        try:
            for path in self.files:
                file = pq.ParquetFile(path)
                for group in range(file.metadata.num_row_groups):
                    n = file.metadata.row_group(group).num_rows
                    width = max(1, 2 * PART_BYTES // (8 * max(n, 1)))  # 32 MiB of float64 at most
                    for first in range(0, len(names), width):
                        part = file.read_row_group(group, columns=names[first : first + width], use_threads=True)
                        offset = start
                        for batch in part.to_batches(max_chunksize=rows):
                            yield offset, first, batch
                            offset += batch.num_rows
                    start += n
        except CSVFormatError:
            raise
        except Exception as error:
            raise self._error(error) from None


def open_table(path: str | Path, delimiter: str | None = None) -> Table:
    """The CSV or Parquet data at ``path``: its column names now, its values when loaded.

    Raises:
        FileNotFoundError: nothing at ``path``.
        CSVFormatError: anything else that keeps the data from being read (the message says what).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist; check the path given to --data.dataset")
    if path.is_dir():
        return _Parquet(path, _parquet_files(path))
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        what = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise CSVFormatError(f"{path} is {what}, not a regular file; give the path of a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise CSVFormatError(f"{path}: the file is empty; it needs a header line and at least one data row")
    head = _head(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        if not head.startswith(b"PAR1"):
            raise CSVFormatError(f"{path}: not a Parquet file (it does not start with PAR1); check the file")
        return _Parquet(path, [str(path)])
    _check_text(path, head)
    return _CSV(path, parse_delimiter(delimiter), head)


def _parquet_files(path: Path) -> list[str]:
    files = sorted(
        str(p)
        for p in path.rglob("*")
        if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file() and not p.name.startswith((".", "_"))
    )
    if not files:
        raise CSVFormatError(
            f"{path} is a directory without .parquet files; give a CSV or Parquet file, or a directory of Parquet files"
        )
    return files


def _head(path: Path, size: int = 65536) -> bytes:
    """The first bytes of the file (decompressed when its name says it is compressed)."""
    import pyarrow as pa

    try:
        if path.suffix.lower() in COMPRESSED_SUFFIXES:
            with pa.input_stream(str(path), compression="detect") as f:
                return f.read(size)
        with path.open("rb") as f:
            return f.read(size)
    except PermissionError:
        raise CSVFormatError(f"{path}: permission denied; make the file readable") from None
    except Exception as error:  # a corrupt compressed stream
        raise CSVFormatError(f"{path}: cannot be decompressed: {error}") from None


def _check_text(path: Path, head: bytes) -> None:
    """Refuse, by their first bytes, files that are not UTF-8 CSV text, saying what they are."""
    if head.startswith(b"\x1f\x8b"):
        raise CSVFormatError(f"{path}: the file is gzip-compressed; name it with .gz at the end (e.g. data.csv.gz)")
    if head.startswith(b"PAR1"):
        raise CSVFormatError(f"{path}: this is a Parquet file; name it with .parquet at the end")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CSVFormatError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        raise CSVFormatError(f"{path}: not a text file (it holds NUL bytes: binary, or UTF-16 without a BOM)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise CSVFormatError(
                f"{path}: not UTF-8 text (byte {head[error.start]:#04x} at offset {error.start}; the file may be "
                "Latin-1 or Windows-1252); save it as UTF-8"
            ) from None


def parse_delimiter(delimiter: str | None) -> str:
    """The one-character separator ``delimiter`` names (``\\t`` and ``tab`` mean a tab; default ``,``)."""
    if delimiter is None:
        return ","
    delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise ValueError(f"delimiter must be one character such as ',' ';' '|' or '\\t', got {delimiter!r}")
    return delimiter


def _no(arrow_type: Any) -> bool:  # a type check this pyarrow lacks
    return False


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _converting_column(error: BaseException, names: list[str]) -> str | None:
    """The column named by Arrow's "In CSV column #k: CSV conversion error" message."""
    match = re.search(r"In CSV column #(\d+): CSV conversion error", str(error))
    return names[int(match.group(1))] if match and int(match.group(1)) < len(names) else None
