"""OS errors through the ``torchtwolayer`` command: unreadable files, read-only folders, a file
over the size limit. Each exits with status 2 and one ``torchtwolayer: error: …`` line, without
a traceback, and changes none of the files that were there.

Permissions do not bind root, and these machines run the tests as root: the cases run in one
child process, which runs each command once as itself (so that every module is imported: the
interpreter may live under root's 0700 home), then each case with its effective user set to
``nobody`` (uid/gid 65534). Every expected message names the file of the case, so a module that
``nobody`` could not import cannot pass for the case. The file size limit is
``resource.setrlimit(RLIMIT_FSIZE)``, set in that child only. One subprocess in all."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from torchtwolayer.commands import _describe, _is_user_error

CHILD = r"""
import contextlib, io, json, os, resource, signal, sys
from pathlib import Path
from helpers import QUIET, files_under, last_checkpoint, write_csv
from torchtwolayer.commands import main

root = Path(sys.argv[1])

@contextlib.contextmanager
def as_nobody():
    if os.geteuid() != 0:  # permissions already apply
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)

def run(name, args, setup=lambda d: None, nobody=True):
    folder = root / name.replace(" ", "_")
    folder.mkdir(0o777)
    folder.chmod(0o777)
    os.chdir(folder)
    write_csv(folder / "data.csv", n=40)
    setup(folder)
    before = files_under(folder)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            with as_nobody() if nobody else contextlib.nullcontext():
                status = main(args)
        except BaseException as error:  # reported, so that the test shows it
            status = f"raised {type(error).__name__}: {error}"
    os.chdir(root)
    for p in folder.rglob("*"):  # readable again, for the parent's comparison and clean-up
        if not p.is_symlink():
            p.chmod(0o777)
    folder.chmod(0o777)
    after = files_under(folder)
    changed = sorted(k for k in before if after.get(k) != before[k])
    results[name] = {"status": status, "err": err.getvalue(), "changed": changed,
                     "new": sorted(set(after) - set(before))}

results = {}
short = ["fit", *QUIET, "--trainer.max_steps", "5"]
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    (root / "trained").mkdir()
    os.chdir(root / "trained")
    write_csv(root / "trained" / "data.csv", n=40)
    table = ["--data.dataset", "data.csv", "--data.features", "[f1,f2]"]
    assert main(["fit", *QUIET, "--trainer.max_steps", "10", *table]) == 0
    trained = last_checkpoint(root / "trained" / "runs")
    assert main(["predict", *QUIET, "--ckpt_path", str(trained), "--data.dataset", "data.csv"]) == 0
    assert main(["plot", "boundary", "--ckpt_path", str(trained)]) == 0
    try:
        with as_nobody():
            pass
    except PermissionError as error:
        print(json.dumps({"cannot drop": str(error)}))
        sys.exit(0)
ckpt = trained.read_bytes()

def checkpoint(d, mode=0o644):
    (d / "model.ckpt").write_bytes(ckpt)
    (d / "model.ckpt").chmod(mode)

predict = ["predict", *QUIET, "--ckpt_path", "model.ckpt", "--data.dataset", "data.csv"]
run("unreadable CSV", [*short, "--data.dataset", "data.csv"], lambda d: (d / "data.csv").chmod(0))
run("unreadable checkpoint", predict, lambda d: checkpoint(d, 0))
run("read-only runs folder", short, lambda d: (d / "runs").mkdir(0o555))
run("read-only working folder", short, lambda d: d.chmod(0o555))
run("read-only output folder", [*predict, "--output", "out/p.csv"],
    lambda d: (checkpoint(d), (d / "out").mkdir(0o555)))
run("read-only plot folder", ["plot", "boundary", "--ckpt_path", "model.ckpt", "--output", "out/b.png"],
    lambda d: (checkpoint(d), (d / "out").mkdir(0o555)))

def small_files(d):  # a trained run, then every file limited to 4 KiB: the next checkpoint cannot be written
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["fit", *QUIET, "--trainer.max_epochs", "1", "--trainer.max_steps", "-1"]) == 0
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an OSError (errno 27) rather than death by signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
resume = ["fit", *QUIET, "--trainer.max_epochs", "3", "--trainer.max_steps", "-1", "--ckpt_path", "last"]
run("file size limit", resume, small_files, nobody=False)
print(json.dumps(results))
"""
CASES = {  # case: words of the message
    "unreadable CSV": "data.csv: permission denied",
    "unreadable checkpoint": "permission denied: model.ckpt",
    "read-only runs folder": "read-only_runs_folder/runs/torchtwolayer;",
    "read-only working folder": "permission denied: /",
    "read-only output folder": "permission denied: out; choose",
    "read-only plot folder": "permission denied: out; choose",
    "file size limit": "a file grew past the size limit while writing runs/torchtwolayer/version_1/checkpoints/",
}


@pytest.fixture(scope="module")
def results():
    root = Path(tempfile.mkdtemp(prefix="torchtwolayer-os-"))  # not under pytest's 0700 folder: nobody enters it
    root.chmod(0o777)
    tests = str(Path(__file__).parent)
    env = {**os.environ, "MPLCONFIGDIR": str(root / ".mpl"), "TORCHTWOLAYER_DEBUG": ""}
    env["PYTHONPATH"] = os.pathsep.join([tests, env.get("PYTHONPATH", "")])
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if "cannot drop" in found:  # root without CAP_SETUID (some containers): permissions would not apply
        pytest.skip(f"running as root, and the privilege cannot be dropped: {found['cannot drop']}")
    return found


@pytest.mark.parametrize("case", CASES)
def test_os_error_is_one_line_and_changes_nothing(results, case):
    result = results[case]
    err = result["err"]
    assert result["status"] == 2, result
    *notes, last = err.strip().splitlines()  # a note (e.g. columns left out) may come first
    assert "Traceback" not in err and last.startswith("torchtwolayer: error: "), err
    assert all(line.startswith("note: ") for line in notes), err
    assert CASES[case] in last, err
    assert result["changed"] == [], result  # no file the user had was modified
    if case == "file size limit":  # the previous run's checkpoint stays; no temporary file is left behind
        assert "the last checkpoint is intact" in err and "fit --ckpt_path last" in err
        assert not [p for p in result["new"] if p.endswith(".tmp") or p.endswith(".ckpt")], result["new"]
    else:
        assert result["new"] == [], result["new"]


@pytest.mark.parametrize(
    "error, words",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full while writing a file; files are written"),
        (OSError(errno.EFBIG, "File too large", "x.ckpt"), "a file grew past the size limit while writing x.ckpt"),
        (PermissionError(errno.EACCES, "Permission denied", "runs"), "permission denied: runs; choose a file"),
        (PermissionError("no access to the model"), "no access to the model"),  # no file name: said once
        (IsADirectoryError("--output . is a folder; give a file name"), "--output . is a folder; give a file name"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"), "out of memory: the model or the data"),
    ],
)
def test_each_os_error_is_described_in_one_line(error, words):
    """The rule itself, for what a test cannot provoke cheaply (a full disk, a failed allocation)."""
    assert _is_user_error(error)
    text = _describe(error)
    assert text.startswith(words) and "\n" not in text and text.count("is a folder") <= 1, text
    if error.errno in (errno.ENOSPC, errno.EFBIG) if isinstance(error, OSError) else False:
        assert "the last checkpoint is intact" in text and "fit --ckpt_path last" in text
