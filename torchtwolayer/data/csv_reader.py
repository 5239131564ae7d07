"""The CSV reader: a ``Table`` over a CSV file, read part by part by Arrow's multi-threaded reader.

The header and the types of the first block are read at once, the columns asked for when
loaded. Memory stays near twice the float32 matrix: the file is read in parts of ``PART_BYTES``
(Arrow's one-shot reader holds about the whole file besides), the numbers as float32.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .table import PART_BYTES, CSVFormatError, InMemoryTable, Table, check_unique_names, kind_of
from .values import looks_numeric

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zst", ".lz4", ".br")
SEPARATORS = {";": "';'", "\t": "'\\t'", "|": "'|'", ",": "','"}  # other separators, and how to pass them


class CSVTable(Table):
    """A CSV file: the header and first-block types at once, the columns when loaded."""

    def __init__(self, path: Path, delimiter: str, head: bytes) -> None:
        super().__init__(str(path), [])
        self.file, self.delimiter = path, delimiter
        self._data: InMemoryTable | None = None
        self._numbers: list[Any] = []  # the float32 numbers, one Arrow table per part of the file
        self._number_names: set[str] = set()  # their columns
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
        if all(looks_numeric(n) for n in names):
            raise CSVFormatError(
                f"{self.path}: the first line must be a header naming the columns, but "
                f"{self.delimiter.join(names)!r} looks like data; add a header line"
            )
        check_unique_names(self.path, names)

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
            self._number_names = set(as_float) if self._numbers else set()
            rest = [part.select(others) for part in parts]
            del parts
        except Exception as error:  # a float32 column with text further down: infer from the whole file
            if _converting_column(error, self.names) is None:
                raise self._error(error) from None
            rest = None
        try:  # each part inferred its own types: an integer part and a float part give floats
            self._data = InMemoryTable(self.path, pa.concat_tables(rest, promote_options="permissive"))
        except (TypeError, ValueError, pa.ArrowException):  # text in one part, numbers in another
            self._numbers, self._number_names = [], set()
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

    def _read_whole(self, columns: list[str], column_types: dict[str, Any]) -> InMemoryTable:
        """Read with types inferred from every block; a column read as float32 that holds text
        further down is read again as text."""
        import pyarrow.csv as pacsv

        column_types = dict(column_types)
        while True:
            read, parse, convert = self._options(include_columns=columns, column_types=column_types)
            try:
                table = pacsv.read_csv(self.file, read_options=read, parse_options=parse, convert_options=convert)
                return InMemoryTable(self.path, table)
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

    def _table_data(self) -> InMemoryTable:
        if self._data is None:
            raise RuntimeError("load() the columns first")
        return self._data

    def _column(self, name: str) -> Any:
        import pyarrow as pa

        if name in self._number_names:
            return pa.chunked_array([c for part in self._numbers for c in part.column(name).chunks], pa.float32())
        return self._table_data()._column(name)

    def _type(self, name: str) -> Any:
        if name in self._number_names:
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
                    batch.column(c) if c in self._number_names else rest.column(c).combine_chunks() for c in names
                ]
                yield start, 0, pa.RecordBatch.from_arrays(columns, names=names)
                start += batch.num_rows
            if self._read_once:
                self._numbers[i] = part = batch = None
                pa.default_memory_pool().release_unused()  # mimalloc keeps freed memory otherwise


def _converting_column(error: BaseException, names: list[str]) -> str | None:
    """The column named by Arrow's "In CSV column #k: CSV conversion error" message."""
    match = re.search(r"In CSV column #(\d+): CSV conversion error", str(error))
    return names[int(match.group(1))] if match and int(match.group(1)) < len(names) else None
