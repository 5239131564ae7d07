"""``torchtwolayer playground``: start the server, print its URL, open the browser, serve until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import tempfile
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from ..parsing import CommandParser
from .run import make_data
from .settings import Settings

PROG = "torchtwolayer playground"


def parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog=PROG,
        description="A local page where the note's network trains while you watch (see docs/playground.md).",
    )
    p.add_argument("csv", nargs="*", type=Path, help="CSV files with two feature columns and a label column (last)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, a free port)")
    p.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the playground until Ctrl-C; returns 0."""
    args = parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535], got {args.port}")
    files = {path.name: path for path in args.csv}
    for path in args.csv:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file; name CSV files with two feature columns and a label column")
    if len(files) < len(args.csv):
        raise ValueError("two CSV files have the same name; the page names data sets by file name: rename one")
    for name in files:  # refused now, with the reason, rather than in the page
        make_data(Settings(dataset=name), files)
    import torch

    from .server import PlaygroundServer

    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="torchtwolayer-playground-") as uploads:
        server = PlaygroundServer(args.host, args.port, files, Path(uploads))
        try:
            # The matrices are tiny (at most 5 000 × 32): one thread each for the worker and the frames,
            # whose threads would otherwise wait on each other (a frame took 40-200 ms on a busy 2-core
            # CPU with torch's 2 threads, 5-20 ms with 1).
            torch.set_num_threads(1)
            print(f"The playground is at {server.url}\n(Ctrl-C stops it)", flush=True)
            if not args.no_browser:
                webbrowser.open(server.url)
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        finally:
            server.server_close()
            torch.set_num_threads(threads)
    return 0
