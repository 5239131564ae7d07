"""Files written so that a crash never leaves half of one: write a temporary file, then rename."""

from __future__ import annotations

import csv
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

# `.NAME.PID-HEX.tmp`: the temporary files of write_atomically (`.NAME.HEX.tmp` before the pid was in the name)
TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.tmp")


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new file beside ``path``, opened for writing, with the mode ``open()`` would give it
    (0666 less the umask, which the kernel applies: ``mkstemp`` would make it 0600). Its name
    holds this process's id, so that a later write can tell a killed writer's file from a live one's."""
    while True:
        tmp = str(path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files that a killed :func:`write_atomically` left in ``folder`` (a
    SIGKILL leaves no chance to remove them): files named as its temporaries whose process no
    longer runs. Nothing else is touched: other files, and a live writer's temporaries, stay."""
    removed = []
    for entry in Path(folder).glob(".*.tmp"):
        match = TEMPORARY.fullmatch(entry.name)
        if match and entry.is_file() and not entry.is_symlink() and not _running(match["pid"]):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _running(pid: str | None) -> bool:
    """Whether process ``pid`` (of this machine) runs; None: a name without a pid, from an older writer."""
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a pid: leave the file alone
        return True
    return True


def write_atomically(path: str | Path, write: Callable[[IO[Any]], None], binary: bool = False) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    A kill at any moment leaves either the old file or the complete new one, never a part; the
    temporary file a kill leaves beside ``path`` is removed by the next write in that folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    try:
        fd, tmp = _temporary_beside(path)
    except PermissionError as error:  # name the folder, not the temporary file
        raise PermissionError(error.errno, f"cannot write {path.name} in the folder", str(path.parent)) from None
    try:
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


def replace_marked_section(path: str | Path, name: str, text: str) -> Path:
    """Replace what lies between ``<!-- name:start -->`` and ``<!-- name:end -->`` in the text
    file at ``path`` (a README's generated table) with ``text``; written atomically."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(content):
        raise ValueError(f"{path} has no {start} … {end} section to update")
    new = pattern.sub(lambda _: f"{start}\n{text}\n{end}", content)
    return write_atomically(path, lambda f: f.write(new))


def output_path(output: str | Path, overwrite: bool, example: str = "output") -> Path:
    """``output`` as a file to write: a folder or an existing file (unless ``overwrite``) is a
    clear error before any work, so nothing the user has is replaced by surprise."""
    path = Path(output)
    if path.is_dir():
        raise IsADirectoryError(f"--output {path} is a folder; give a file name in it, e.g. {path / example}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another --output or pass --overwrite")
    return path
