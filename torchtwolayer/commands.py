"""The ``torchtwolayer`` command: one line of help per command, the output modes, and one
rule for failures: ``torchtwolayer: error: …`` on stderr, exit status 2, no traceback.

Lightning is imported only by the commands that train or evaluate, so ``torchtwolayer --help``,
``check``, ``plot`` and ``export`` start quickly.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

PROG = "torchtwolayer"
COMMANDS = {
    "fit": "train a network (no arguments: the course's flower; --data.dataset FILE.csv for a table)",
    "validate": "score a checkpoint on its validation split (--ckpt_path last|best|FILE)",
    "test": "score a checkpoint on its test split, or every row of a hold-out --data.dataset",
    "predict": "write a checkpoint's predictions for a file as CSV (--ckpt_path, --data.dataset, --output)",
    "lr-find": "suggest a learning rate: Lightning's learning-rate finder and its picture (fit's flags)",
    "check": "verify the hand-written backward against autograd and finite differences",
    "plot": "draw a checkpoint's decision boundary or a run's learning curves as PNG",
    "export": "write a checkpoint as one ONNX graph that takes raw features",
    "playground": "a local page where the network trains while you watch (--no-browser, --port)",
}
USAGE = f"""usage: {PROG} COMMAND [-v | -q] [--help] [ARGS]

The one-hidden-layer network of the course note, with its backward written by hand.

commands:
{chr(10).join(f"  {name:<12}{text}" for name, text in COMMANDS.items())}

options:
  -h, --help     show this message; `{PROG} COMMAND --help` shows a command's options
  -v, --verbose  also show Lightning's own messages and the model summary
  -q, --quiet    print only the final summary (no progress bar, no per-epoch lines)
  (-v and -q may come before or after the command; switches such as --overwrite take no value)
"""
EXIT_USAGE, EXIT_SIGTERM = 2, 143
VERBOSITY = {"-v": 1, "--verbose": 1, "-q": -1, "--quiet": -1}
SWITCHES = ("--overwrite",)  # plain switches; the older spelling `--overwrite true|false` is still read
NON_FINITE = ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")
NAME_VALUED = ("--data.dataset", "--data.target", "--output", "--ckpt_path", "--config")  # a value here is a name
QUIET_WARNINGS = (  # noise that says nothing a user can act on
    r".*isinstance\(treespec, LeafSpec\)",
    r"The dirpath has changed from",
    r".*does not have many workers",
    r".*`max_epochs` was not set",
    r".*Checkpoint directory .* exists and is not empty",
    r"Be aware that when using `ckpt_path`",  # evaluation needs no training callbacks
    r"Couldn't infer the batch indices",  # the writer writes whole epochs
    r"Total length of .* across ranks is zero",  # an empty validation split (--data.val_fraction 0)
)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the ``torchtwolayer`` console script; returns the exit status."""
    argv, verbosity = _take_verbosity(list(sys.argv[1:] if args is None else args))
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else EXIT_USAGE
    command = argv[0]
    if command not in COMMANDS:
        print(f"{PROG}: error: unknown command {command!r}; expected one of {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    with _output_mode(verbosity):
        return _run(command, argv, verbosity)


def _take_verbosity(argv: list[str]) -> tuple[list[str], int]:
    """``argv`` without ``-v``/``-q`` (before or after the command; the last one given wins), and the verbosity."""
    verbosity, kept = 0, []
    for arg in argv:
        if arg in VERBOSITY:
            verbosity = VERBOSITY[arg]
        else:
            kept.append(arg)
    return kept, verbosity


def _one_spelling(argv: list[str]) -> list[str]:
    """The switches as switches (``--overwrite true`` → ``--overwrite``, ``--overwrite false`` → nothing),
    and a non-finite number given to any flag refused in one line before a parser prints its usage."""
    out: list[str] = []
    for k, arg in enumerate(argv):
        flag, _, value = arg.partition("=")
        if not value and k + 1 < len(argv) and flag.startswith("--"):
            value = argv[k + 1]
        if flag.startswith("--") and flag not in NAME_VALUED and value.lower() in NON_FINITE:
            raise ValueError(f"{flag} {value} is not a finite number; give a finite value, e.g. {flag} 0.1")
        if out and out[-1] in SWITCHES and arg.lower() in ("true", "false"):
            if arg.lower() == "false":
                out.pop()
            continue
        if flag in SWITCHES and arg != flag:
            out += [flag] if value.lower() == "true" else [] if value.lower() == "false" else [arg]
            continue
        out.append(arg)
    return out


def _run(command: str, argv: list[str], verbosity: int) -> int:
    try:
        return _dispatch(command)(_one_spelling(argv), verbosity)
    except Exception as error:  # every failure becomes one line, unless debugging
        if os.environ.get("TORCHTWOLAYER_DEBUG") or not _is_user_error(error):
            raise
        hint = f"; `{PROG} {command} --help` lists the options" if isinstance(error, argparse.ArgumentError) else ""
        print(f"{PROG}: error: {_describe(error)}{hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _dispatch(command: str) -> Callable[[list[str], int], int]:
    if command == "check":
        from .check import main as check_main

        return lambda argv, _: check_main(argv[1:])
    if command == "plot":
        from .lightning.plot_command import main as plot_main

        return lambda argv, _: plot_main(argv[1:])
    if command == "export":
        from .export import main as export_main  # (imports Lightning: it reads checkpoints)

        return lambda argv, _: export_main(argv[1:])
    if command == "playground":
        from .playground.cli import main as playground_main

        return lambda argv, _: playground_main(argv[1:])
    return _lightning_command


def _lightning_command(argv: list[str], verbosity: int) -> int:
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from .lightning.cli import NothingToDoError, lightning_main
    from .lightning.quiet import lightning_output

    try:
        with lightning_output(verbosity):
            lightning_main([argv[0].replace("-", "_"), *argv[1:]], verbosity)  # lr-find: the CLI's lr_find
    except NothingToDoError as done:
        print(done)
    except SIGTERMException:  # Lightning's stop on SIGTERM, a SystemExit(0): the resume line is printed
        return EXIT_SIGTERM
    return 0


def _is_user_error(error: BaseException) -> bool:
    """Errors of input, files and settings; a bug (anything else) keeps its traceback."""
    user = (ValueError, TypeError, OSError, LookupError, MemoryError, ImportError, argparse.ArgumentError)
    # (ImportError: a missing extra; ArgumentError: the command's parser, which prints no usage)
    if isinstance(error, user) or _out_of_memory(error):
        return True
    lightning = sys.modules.get("lightning.fabric.utilities.exceptions")  # not imported: not Lightning's error
    misconfigured = lightning is not None and isinstance(error, lightning.MisconfigurationException)
    return misconfigured or type(error).__module__ == "_csv"


def _describe(error: BaseException) -> str:
    """One line that names the problem and what to do."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        what = {errno.ENOSPC: "the disk is full", errno.EFBIG: "a file grew past the size limit"}
        return (
            f"{what.get(error.errno, 'the disk quota is used up')} while writing {error.filename or 'a file'}; "
            "files are written through a temporary copy, so the last checkpoint is intact. Free space, then "
            f"resume with `{PROG} fit --ckpt_path last`"
        )
    if isinstance(error, PermissionError) and error.filename:
        return f"permission denied: {error.filename}; choose a file or folder you can read and write"
    if isinstance(error, IsADirectoryError) and error.filename:
        return f"{error.filename} is a folder; give a file name"
    if _out_of_memory(error):
        return (
            "out of memory: the model or the data does not fit; make --model.hidden_size, "
            "--data.n_samples or --data.batch_size smaller"
        )
    message = str(error).strip() or type(error).__name__
    return re.sub(r"\s*\n\s*", " ", message)


def _out_of_memory(error: BaseException) -> bool:
    """torch's failed allocation (a ``RuntimeError``): what the size checks did not foresee."""
    return isinstance(error, RuntimeError) and (
        type(error).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(error)
    )


@contextmanager
def _output_mode(verbosity: int) -> Iterator[None]:
    """Known noise unless ``-v``: warnings that say nothing a user can act on; restored on the way out."""
    with warnings.catch_warnings():
        if verbosity <= 0:
            for message in QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
        yield
