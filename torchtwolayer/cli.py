"""The ``torchtwolayer`` command."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(args: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["check"]:
        from .check import main as check_main

        return check_main(argv[1:])
    print("usage: torchtwolayer check [--m M --n0 N0 --n1 N1 --n2 N2]", file=sys.stderr)
    return 2
