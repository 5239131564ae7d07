"""Run the package on the oldest versions its dependencies allow and on the newest, side by side.

    python scripts/version_matrix.py --rows oldest newest --write     # docs/versions.md's table, README's line
    python scripts/version_matrix.py --rows oldest:torch==2.5.1       # one pin changed, to explore
    python scripts/version_matrix.py --rows oldest --ref main         # a committed branch, not the work tree

For each row, a throwaway virtual environment outside the repository (``--venvs``, default
``~/.cache/torchtwolayer/version-matrix/<row>``; created once, reused and re-pinned on later runs)
gets the row's pinned versions, pytest and hypothesis, then this package without its dependencies
(``pip install --no-deps -e``). In it the script runs ``import torchtwolayer``, ``torchtwolayer
check``, the core tests, the table tests and ``torchtwolayer fit --trainer.max_steps 50`` in a
temporary folder, and prints a markdown table: the versions, each step's result, and the seconds
spent installing and running. Each step's output is kept in ``<venv>/logs/``.

Rows: ``oldest`` pins every dependency to the lower bound written in ``pyproject.toml`` (so the
table tests exactly what the package claims); ``newest`` pins torch to ``NEWEST_TORCH`` and takes
every other dependency's newest release. ``ROW:name==version,...`` changes pins of a row.

Not part of ``.ci/run``: torch other than the CPU build on this machine's disk comes from the
index as a CUDA build (about 3 GB with its ``nvidia-*`` packages) and a row takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS_PAGE = ROOT / "docs" / "versions.md"
SECTION = "version-matrix"  # <!-- version-matrix:start --> … <!-- version-matrix:end --> in DOCS_PAGE
README = ROOT / "README.md"
SUMMARY = "version-matrix-summary"  # its one-line summary, with the date, in README
DEFAULT_VENVS = Path(os.environ.get("TORCHTWOLAYER_MATRIX", Path.home() / ".cache/torchtwolayer/version-matrix"))

# The dependencies whose versions the table shows (the package's own requirements).
PACKAGES = ("torch", "lightning", "torchmetrics", "numpy", "pyarrow", "jsonargparse", "matplotlib")
# torch's CPU build kept on this machine's disk; newer torch is on the index only as a CUDA build.
NEWEST_TORCH = "2.13.0"
# What the tests need beyond the package's requirements (the `test` extra's optional parts are not needed).
TEST_TOOLS = ("pytest>=8", "hypothesis>=6.100", "setuptools>=68")
CORE_TESTS = (
    "tests/test_function.py",
    "tests/test_torch_func.py",
    "tests/test_compat.py",
    "tests/test_gradient_descent.py",
    "tests/test_module.py",
    "tests/test_validation.py",
)
TABLE_TESTS = ("tests/test_tables.py", "tests/test_schema.py")
STEP_TIMEOUT = 1800  # seconds; a hung step fails its row instead of the whole run


def lower_bounds(pyproject: Path) -> dict[str, str]:
    """``name -> lowest allowed version`` from the ``>=`` bounds of ``[project] dependencies``."""
    bounds = {}
    for requirement in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        match = re.search(r">=\s*([0-9][0-9.]*)", requirement)
        if name in PACKAGES and match:
            bounds[name] = match.group(1)
    return bounds


def requirements(pyproject: Path) -> dict[str, tuple[str, str]]:
    """``name -> (name with its extras, the whole requirement)``, e.g. ``jsonargparse[signatures]``."""
    reqs = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0): (re.match(r"[^<>=!~ ]+", r).group(0), r) for r in reqs}


def row_pins(spec: str, pyproject: Path) -> dict[str, str]:
    """The pins of a row spec: ``oldest``, ``newest``, either followed by ``:name==version,...``."""
    base, _, overrides = spec.partition(":")
    if base == "oldest":
        pins = {name: f"=={version}" for name, version in lower_bounds(pyproject).items()}
    elif base == "newest":
        pins = {"torch": f"=={NEWEST_TORCH}"}
    else:
        raise SystemExit(f"unknown row {base!r}: give oldest or newest, optionally followed by :name==version,...")
    for pin in filter(None, overrides.split(",")):
        name, sep, version = pin.partition("==")
        if not sep or name not in PACKAGES:
            raise SystemExit(f"bad pin {pin!r} in row {spec!r}: write name==version with a name in {PACKAGES}")
        pins[name] = f"=={version}"
    return pins


@dataclass
class Step:
    ok: bool
    seconds: float
    summary: str  # "ok", "12 passed", or the first line that says what failed


@dataclass
class Row:
    spec: str
    versions: dict[str, str] = field(default_factory=dict)
    install_seconds: float = 0.0
    steps: dict[str, Step] = field(default_factory=dict)


def run(cmd: list[str], log: Path, cwd: Path | None = None) -> tuple[int, str, float]:
    """Run ``cmd``, keep its output in ``log``; return its status, its output and the seconds it took."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("VIRTUAL_ENV", None)
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as e:
        code, output = -1, f"{e.stdout or ''}{e.stderr or ''}\ntimed out after {STEP_TIMEOUT} s"
    seconds = time.perf_counter() - start
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(map(str, cmd))}\n(cwd {cwd}, status {code}, {seconds:.1f} s)\n\n{output}")
    return code, output, seconds


def failure_line(output: str) -> str:
    """The line of ``output`` that names the failure: the last ``...Error: ...`` line, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()] or ["no output"]
    errors = [i for i, line in enumerate(lines) if re.search(r"(Error|Exception|error):", line)]
    i = errors[-1] if errors else len(lines) - 1
    line = re.sub(r"^E\s+", "", lines[i])  # pytest's error lines start with "E"
    if line.endswith(":") and i + 1 < len(lines):  # a traceback printer that puts the message on the next line
        line = f"{line} {lines[i + 1]}"
    return line if len(line) <= 300 else line[:297] + "..."


def test_counts(output: str) -> str:
    """pytest's summary counts, e.g. ``123 passed, 2 failed``."""
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    if not summary:
        return ""
    counts = re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary[-1])
    return ", ".join(f"{n} {what}" for n, what in counts)


def install(row: Row, venv: Path, source: Path, pyproject: Path) -> bool:
    """Create (or reuse) the row's environment and pin it; False (with the failure as a step) if pip fails."""
    python = venv / "bin" / "python"
    logs = venv / "logs"
    start = time.perf_counter()
    if not python.exists():
        code, output, _ = run([sys.executable, "-m", "venv", str(venv)], logs / "venv.log")
        if code:
            row.steps["install"] = Step(False, 0.0, failure_line(output))
            return False
    pins = row_pins(row.spec, pyproject)
    wanted = [full + pins[name] if name in pins else req for name, (full, req) in requirements(pyproject).items()]
    newest = row.spec.split(":")[0] == "newest"
    cmd = [str(python), "-m", "pip", "install", "-q", *(["--upgrade"] if newest else []), *wanted, *TEST_TOOLS]
    code, output, _ = run(cmd, logs / "pip-pins.log")
    if not code:
        cmd = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(source)]
        code, output, _ = run(cmd, logs / "pip-package.log")
    row.install_seconds = time.perf_counter() - start
    if code:
        row.steps["install"] = Step(False, row.install_seconds, failure_line(output))
        return False
    code, output, _ = run(
        [
            str(python),
            "-c",
            f"import importlib.metadata as m, json; print(json.dumps({{n: m.version(n) for n in {PACKAGES!r}}}))",
        ],
        logs / "versions.log",
    )
    row.versions = json.loads(output.splitlines()[-1]) if not code else {}
    return True


def check_row(row: Row, venv: Path, source: Path) -> None:
    """The steps: import, ``check``, the core and table tests, a short ``fit``; each recorded in ``row.steps``."""
    python, logs = str(venv / "bin" / "python"), venv / "logs"
    pytest = [python, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory(prefix="torchtwolayer-matrix-") as tmp:
        steps = {
            "import": ([python, "-c", "import torchtwolayer"], Path(tmp)),
            "check": ([python, "-m", "torchtwolayer", "check"], Path(tmp)),
            "core tests": ([*pytest, *existing(source, CORE_TESTS)], source),
            "table tests": ([*pytest, *existing(source, TABLE_TESTS)], source),
            "fit": ([str(venv / "bin" / "torchtwolayer"), "fit", "--trainer.max_steps", "50"], Path(tmp)),
        }
        for name, (cmd, cwd) in steps.items():
            code, output, seconds = run(cmd, logs / f"{name.replace(' ', '-')}.log", cwd)
            counts = test_counts(output) if "tests" in name else ""
            if (
                name == "fit"
                and not code
                and not (Path(tmp) / "runs/torchtwolayer/version_0/checkpoints/last.ckpt").exists()
            ):
                code, output = 1, "fit wrote no runs/torchtwolayer/version_0/checkpoints/last.ckpt"
            row.steps[name] = Step(
                not code,
                seconds,
                counts
                if counts and not code
                else (f"{counts}: {failure_line(output)}" if counts else failure_line(output))
                if code
                else "ok",
            )


def existing(source: Path, tests: tuple[str, ...]) -> list[str]:
    """The test files of ``tests`` that exist in ``source`` (a renamed one is reported, not silently lost)."""
    missing = [t for t in tests if not (source / t).exists()]
    if missing:
        print(
            f"note: {', '.join(missing)} not in {source}; update the lists at the top of this script", file=sys.stderr
        )
    return [t for t in tests if t not in missing]


STEP_NAMES = ("import", "check", "core tests", "table tests", "fit")


def table(rows: list[Row], ref: str) -> str:
    """The markdown table, its date and machine, and one numbered note per failure."""
    notes: list[str] = []

    def cell(row: Row, name: str) -> str:
        step = row.steps.get(name)
        if step is None:
            return "not run"
        if step.ok:
            return step.summary
        notes.append(f"`{row.spec}`, {name}: `{step.summary}`")
        return f"**fails** ({len(notes)})"

    head = ["row", *PACKAGES, *STEP_NAMES, "install s", "steps s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        versions = [row.versions.get(name, "?") for name in PACKAGES]
        if "install" in row.steps:
            results = [cell(row, "install")] + ["not run"] * (len(STEP_NAMES) - 1)
        else:
            results = [cell(row, name) for name in STEP_NAMES]
        run_seconds = sum(s.seconds for n, s in row.steps.items() if n != "install")
        lines.append(
            "| "
            + " | ".join([f"`{row.spec}`", *versions, *results, f"{row.install_seconds:.0f}", f"{run_seconds:.0f}"])
            + " |"
        )
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    text = [
        f"Run {date} on {ref} ({machine}); `python scripts/version_matrix.py --rows {' '.join(r.spec for r in rows)}`.",
        "",
        *lines,
    ]
    if notes:
        text += ["", *(f"{i}. {note}" for i, note in enumerate(notes, 1))]
    return "\n".join(text)


def summary(rows: list[Row], date: str) -> str:
    """One line for the README: the date, and each row's torch and Lightning with its verdict."""
    verdicts = []
    for row in rows:
        passed = bool(row.steps) and all(step.ok for step in row.steps.values())
        versions = f"torch {row.versions.get('torch', '?')}, Lightning {row.versions.get('lightning', '?')}"
        verdicts.append(f"`{row.spec}` ({versions}): {'passes' if passed else '**fails**'}")
    what = "import, `check`, the core and table tests, a short `fit`; the table: [docs/versions.md](docs/versions.md)"
    return f"Last run of `scripts/version_matrix.py`, {date}: " + "; ".join(verdicts) + f" ({what})."


def source_tree(ref: str | None, venvs: Path) -> Path:
    """The code to test: the work tree, or ``ref`` exported with ``git archive`` beside the environments."""
    if ref is None:
        return ROOT
    target = venvs / "sources" / re.sub(r"[^A-Za-z0-9._-]", "-", ref)
    subprocess.run(["rm", "-rf", str(target)], check=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", default=["oldest", "newest"], help="oldest, newest, ROW:name==version,...")
    parser.add_argument(
        "--venvs", type=Path, default=DEFAULT_VENVS, help=f"where the environments live ({DEFAULT_VENVS})"
    )
    parser.add_argument("--ref", help="test this git commit or branch (git archive) instead of the work tree")
    parser.add_argument(
        "--write", action="store_true", help=f"put the table into {DOCS_PAGE.relative_to(ROOT)}, a line into README.md"
    )
    args = parser.parse_args(argv)
    for spec in args.rows:
        row_pins(spec, ROOT / "pyproject.toml")  # a bad row is an error before any download
    source = source_tree(args.ref, args.venvs)
    rows = []
    for spec in args.rows:
        row = Row(spec)
        venv = args.venvs / re.sub(r"[^A-Za-z0-9._-]", "_", spec)
        print(f"[{spec}] installing into {venv}", file=sys.stderr, flush=True)
        if install(row, venv, source, source / "pyproject.toml"):
            print(f"[{spec}] {row.versions}; running the steps", file=sys.stderr, flush=True)
            check_row(row, venv, source)
        rows.append(row)
        print(table([row], args.ref or "the work tree"), file=sys.stderr, flush=True)
    text = table(rows, f"`{args.ref}`" if args.ref else "the work tree")
    print(text)
    if args.write:
        sys.path.insert(0, str(ROOT))
        from torchtwolayer.files import replace_marked_section

        replace_marked_section(DOCS_PAGE, SECTION, text)
        replace_marked_section(README, SUMMARY, summary(rows, datetime.now(UTC).strftime("%Y-%m-%d")))
        print(f"Updated {DOCS_PAGE.relative_to(ROOT)} and {README.relative_to(ROOT)}", file=sys.stderr)
    return 0 if all(row.steps and all(s.ok for s in row.steps.values()) for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
