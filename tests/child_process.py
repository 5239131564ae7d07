"""The suite's one child process for the runs that need a process of their own: it imports Lightning
once (~6 s of CPU), then

1. runs the killed fits of tests/test_interruption.py, each in a fork of itself, a process of its own
   that its callback (tests/killswitch.py) signals. No torch computation runs before the forks: a fork
   of a process that has used torch's OpenMP threads hangs at its next multi-threaded operation;
2. runs the OS cases of tests/test_bad_input_os.py: each command once as itself (so that every module
   is imported: the interpreter may live under root's 0700 home), then each case with its effective
   user set to ``nobody`` (uid/gid 65534), the file size limit last.

The session fixture ``child_process`` (tests/conftest.py) starts it with :func:`run_child` and asks
only for the parts whose test modules are collected; it prints its results as one JSON line.
"""

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# The killed runs (tests/test_interruption.py): arguments, the step at which the run is killed, the
# step of the last checkpoint saved before it, the signal. Checkpoints are written at the end of every
# epoch: 20 steps in full-batch mode here, and 10 batches of 32 of moons' 320 training rows, so the
# last checkpoint is that of the epoch before the kill. The full-batch run is stopped by SIGTERM (a
# scheduler's stop: status 143 and a resume line; Lightning stops after the batch at hand, without a
# save: step 40), the mini-batch run by SIGKILL (no chance to say or save anything).
KILLED = {
    "full-batch": (["--data.full_batch_steps", "20", "--trainer.max_steps", "100"], 55, 40, signal.SIGTERM),
    "mini-batch": (
        ["--data.dataset", "moons", "--data.batch_size", "32", "--trainer.max_steps", "60"],
        35,
        30,
        signal.SIGKILL,
    ),
}


def run_child(tmp_path_factory, killed: bool, os_cases: bool) -> dict:
    """Start the child for the parts asked for: ``{"killed": {mode: [folder, status, stderr]}, "os": {case:
    result} or {"cannot drop": why}}``. The OS cases run under a folder of their own that ``nobody``
    can enter (pytest's are 0700), removed afterwards."""
    from helpers import QUIET

    spec: dict = {"killed": [], "os_root": None}
    if killed:
        for name, (args, kill_step, _, signum) in KILLED.items():
            kill = ["--trainer.callbacks+=killswitch.KillAtStep", f"--trainer.callbacks.step={kill_step}",
                    f"--trainer.callbacks.signum={int(signum)}"]  # fmt: skip
            spec["killed"].append([name, str(tmp_path_factory.mktemp(name)), [*QUIET, *args, *kill]])
    root = Path(tempfile.mkdtemp(prefix="torchtwolayer-os-"))
    root.chmod(0o777)
    if os_cases:
        spec["os_root"] = str(root)
    env = {**os.environ, "MPLCONFIGDIR": str(root / ".mpl"), "TORCHTWOLAYER_DEBUG": ""}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(
            [sys.executable, __file__, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def killed_runs(runs: list) -> dict:
    """Each run in a fork, one after the other: its folder, exit status and standard error."""
    from torchtwolayer.commands import main

    results = {}
    for name, folder, args in runs:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.chdir(folder)
                with open("stdout.txt", "w") as out, open("stderr.txt", "w") as err:
                    os.dup2(out.fileno(), 1)
                    os.dup2(err.fileno(), 2)
                    status = main(["fit", *args])
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        results[name] = [folder, status, Path(folder, "stderr.txt").read_text()]
    return results


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


def os_cases(root: Path) -> dict:
    """Each case's exit status, standard error, and the files it changed or created."""
    from helpers import QUIET, files_under, last_checkpoint, write_csv

    from torchtwolayer.commands import main

    results = {}

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
        for p in folder.rglob("*"):  # readable again, for the comparison and clean-up
            if not p.is_symlink():
                p.chmod(0o777)
        folder.chmod(0o777)
        after = files_under(folder)
        changed = sorted(k for k in before if after.get(k) != before[k])
        results[name] = {"status": status, "err": err.getvalue(), "changed": changed,
                         "new": sorted(set(after) - set(before))}  # fmt: skip

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
            return {"cannot drop": str(error)}
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
        lambda d: (checkpoint(d), (d / "out").mkdir(0o555)))  # fmt: skip
    run("read-only plot folder", ["plot", "boundary", "--ckpt_path", "model.ckpt", "--output", "out/b.png"],
        lambda d: (checkpoint(d), (d / "out").mkdir(0o555)))  # fmt: skip

    def small_files(d):  # a trained run, then every file limited to 4 KiB: the next checkpoint cannot be written
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["fit", *QUIET, "--trainer.max_epochs", "1", "--trainer.max_steps", "-1"]) == 0
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an OSError (errno 27) rather than death by signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    resume = ["fit", *QUIET, "--trainer.max_epochs", "3", "--trainer.max_steps", "-1", "--ckpt_path", "last"]
    run("file size limit", resume, small_files, nobody=False)  # last: the limit stays set in this process
    return results


if __name__ == "__main__":
    import torchtwolayer.lightning.cli  # noqa: F401  (Lightning, imported once, before the forks)

    spec = json.loads(sys.argv[1])
    found = {"killed": killed_runs(spec["killed"])}
    if spec["os_root"] is not None:
        found["os"] = os_cases(Path(spec["os_root"]))
    print(json.dumps(found))
