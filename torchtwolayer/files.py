"""Files written so that a crash never leaves half of one: write a temporary file, then rename."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | Path, write: Callable[[IO[Any]], None], binary: bool = False) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    A kill at any moment leaves either the old file or the complete new one, never a part.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except PermissionError as error:  # name the folder, not the temporary file
        raise PermissionError(error.errno, f"cannot write {path.name} in the folder", str(path.parent)) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # what open() would have given, not mkstemp's 0600
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": "", "encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # a full disk, a size limit: name the file
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
    return path


def write_csv_atomically(path: str | Path, columns: Mapping[str, np.ndarray]) -> Path:
    """A CSV file with one column per entry of ``columns`` (all of one length).

    Float arrays are written to 9 significant digits (exact for float32); other values as
    Python writes them (an object array of floats: the shortest exact form), booleans as
    ``true``/``false``.
    """

    def write(f: IO[str]) -> None:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(zip(*(_cells(v) for v in columns.values()), strict=True))

    return write_atomically(path, write)


def _cells(values: np.ndarray) -> list:
    if values.dtype.kind == "f":
        return [f"{v:.9g}" for v in values.tolist()]
    if values.dtype.kind in "bO":
        return [("true" if v else "false") if isinstance(v, bool) else v for v in values.tolist()]
    return values.tolist()
