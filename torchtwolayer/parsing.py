"""The parser of the commands that are not Lightning's (check, plot, export, playground): its
errors are raised, not printed with the usage block, so that the command's one rule
(:mod:`torchtwolayer.commands`) reports them in one line with a pointer to ``--help``."""

from __future__ import annotations

import argparse
from typing import NoReturn


class CommandParser(argparse.ArgumentParser):
    """:class:`argparse.ArgumentParser` whose :meth:`error` raises :class:`argparse.ArgumentError`.

    >>> CommandParser(prog="torchtwolayer plot").parse_args(["--nope"])
    Traceback (most recent call last):
    argparse.ArgumentError: unrecognized arguments: --nope
    """

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)
