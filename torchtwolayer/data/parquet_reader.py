"""The Parquet reader: a ``Table`` over a Parquet file or a directory of them, numbers a row group at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .table import PART_BYTES, CSVFormatError, Table, check_unique_names


class ParquetTable(Table):
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
        check_unique_names(self.path, names)

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
