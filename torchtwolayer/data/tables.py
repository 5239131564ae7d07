"""Opening a data file as a :class:`~.table.Table`, with errors that name the file, the problem and the fix.

Formats: CSV (``.csv``, also compressed as Arrow detects from the name, e.g. ``.csv.gz``) and
Parquet (a ``.parquet`` file, or a directory of them read in name order).

:func:`open_table` checks the path and reads the column names (for a CSV, its first block);
:meth:`Table.load` reads only the columns asked for (:mod:`.csv_reader`, :mod:`.parquet_reader`).

pyarrow is imported when a table is opened, never by ``import torchtwolayer``.
"""

from __future__ import annotations

import stat
from pathlib import Path

from .csv_reader import COMPRESSED_SUFFIXES, CSVTable
from .parquet_reader import ParquetTable
from .table import CSVFormatError, Factor, Table, from_arrays, kind_of

__all__ = ["PARQUET_SUFFIXES", "CSVFormatError", "Factor", "Table", "from_arrays", "kind_of", "open_table",
           "parse_delimiter"]  # fmt: skip
PARQUET_SUFFIXES = (".parquet", ".pq")


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
        return ParquetTable(path, _parquet_files(path))
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
        return ParquetTable(path, [str(path)])
    _check_text(path, head)
    return CSVTable(path, parse_delimiter(delimiter), head)


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
