"""Killed runs resume to the same weights; divergence stops cleanly; runs are reproducible."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import QUIET, files_under, fit, weights

from torchtwolayer.lightning.cli import lightning_main
from torchtwolayer.lightning.module import DivergenceError

# Checkpoints are written at the end of every epoch: 20 steps in full-batch mode here, and
# 10 batches of 32 of moons' 320 training rows. Each run is killed at the end of the step
# given, inside an epoch, so the last checkpoint is that of the epoch before.
# The full-batch run is stopped by SIGTERM (a scheduler's stop: status 143 and a resume line;
# Lightning stops after the batch at hand, without a save: step 40), the mini-batch run by
# SIGKILL (no chance to say or save anything).
FULL_BATCH = (["--data.full_batch_steps", "20", "--trainer.max_steps", "100"], 55, 40, signal.SIGTERM)
MINI_BATCH = (
    ["--data.dataset", "moons", "--data.batch_size", "32", "--trainer.max_steps", "60"],
    35,
    30,
    signal.SIGKILL,
)
MODES = {"full-batch": FULL_BATCH, "mini-batch": MINI_BATCH}
TESTS = Path(__file__).resolve().parent


def final_weights(root: Path) -> dict[str, torch.Tensor]:
    ckpts = sorted(root.glob("runs/torchtwolayer/version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return weights(ckpts[-1])


# The killed runs, both in one child process: it imports Lightning once (~6 s), then each run is a
# fork of it, a process of its own that its callback signals. (No torch computation runs before the forks.)
KILLED_RUNS = r"""
import json, os, sys
import torchtwolayer.lightning.cli
from torchtwolayer.commands import main

statuses = {}
for folder, args in json.loads(sys.argv[1]):
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
    statuses[folder] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(statuses))
"""


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory) -> dict[str, tuple[Path, int, str]]:
    """Each mode's run killed at its step: its folder, exit status and standard error."""
    runs = []
    for name, (args, kill_step, _, signum) in MODES.items():
        kill = ["--trainer.callbacks+=killswitch.KillAtStep", f"--trainer.callbacks.step={kill_step}",
                f"--trainer.callbacks.signum={int(signum)}"]  # fmt: skip
        runs.append((str(tmp_path_factory.mktemp(name)), [*QUIET, *args, *kill]))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUNS, json.dumps(runs)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    statuses = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        name: (Path(folder), statuses[folder], (Path(folder) / "stderr.txt").read_text())
        for name, (folder, _) in zip(MODES, runs, strict=True)
    }


@pytest.mark.parametrize("mode", MODES)
def test_kill_then_resume_from_last_gives_the_uninterrupted_weights(mode, killed_runs, tmp_path, monkeypatch):
    args, _, saved_step, signum = MODES[mode]
    killed, returncode, stderr = killed_runs[mode]
    straight = tmp_path / "straight"
    straight.mkdir()
    last = killed / "runs/torchtwolayer/version_0/checkpoints/last.ckpt"
    if signum == signal.SIGTERM:
        assert returncode == 143, stderr[-3000:]
        assert (
            "stopped by SIGTERM" in stderr
            and f"resume with `torchtwolayer fit --ckpt_path {last.relative_to(killed)}`" in stderr
        )
    else:
        assert returncode == -signal.SIGKILL, stderr[-3000:]
    assert torch.load(last, weights_only=True)["global_step"] == saved_step

    monkeypatch.chdir(killed)
    assert fit(*args, "--ckpt_path", "last") == 0
    monkeypatch.chdir(straight)
    assert fit(*args) == 0
    resumed, uninterrupted = final_weights(killed), final_weights(straight)
    assert resumed.keys() == uninterrupted.keys()
    for k in resumed:
        assert torch.equal(resumed[k], uninterrupted[k]), k  # bit-identical
    assert torch.load(last, weights_only=True)["global_step"] == saved_step  # the killed run's files stay


def test_same_seed_gives_bit_identical_weights(tmp_path, monkeypatch):
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        assert fit("--data.dataset", "moons", "--data.batch_size", "16", "--trainer.max_steps", "100") == 0
        runs.append(final_weights(tmp_path / name))
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k])


@pytest.mark.parametrize("lr", ["0.8", "1e30"])
def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(lr, tmp_path, monkeypatch):
    """lr 0.8 makes the cost rise for a few steps, finite, past 100× its start; lr 1e30 at once: both
    are divergence. (float64, so the trajectory is the same on every CPU.)"""
    monkeypatch.chdir(tmp_path)
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, 2.0, -1.0] + 0.1 * rng.normal(size=200)
    np.savetxt("reg.csv", np.c_[X, y], delimiter=",", header="a,b,c,y", comments="", fmt="%.6f")
    args = ["fit", *QUIET, "--data.dataset", "reg.csv", "--model.lr", lr, "--data.batch_size", "0",
            "--model.hidden_size", "32", "--model.weight_decay", "0", "--trainer.precision", "64-true"]  # fmt: skip
    with pytest.raises(DivergenceError) as info:
        lightning_main([*args, "--data.full_batch_steps", "5", "--model.momentum", "0"])
    message = str(info.value)
    step = int(message.split("diverged by step ")[1].split(":")[0])
    assert "the cost J is" in message and f"try --model.lr {float(lr) / 10:g}" in message
    last = Path("runs/torchtwolayer/version_0/checkpoints/last.ckpt")
    if lr == "1e30":  # diverged in the first epoch, before any save: refused, and no run folder is left
        assert step == 5 and "No checkpoint had been written yet" in message
        assert not Path("runs/torchtwolayer/version_0").exists()
        return
    assert step > 5
    assert f"The last good checkpoint is kept: {last}" in message
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["global_step"] < step
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values())
    # the kept checkpoint's cost on its training data is finite and not far above the start
    from torchtwolayer.lightning.checkpoints import load_data, load_model

    model, dm = load_model(last), load_data(last)
    assert model.score(*dm.tensors("train"))["loss"] < 100 * 0.5


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    from torchtwolayer.lightning.checkpoints import AtomicCheckpointIO

    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1, "w": torch.ones(3)}, path)
    real_save = torch.save

    def dies_midway(obj, f, *args, **kwargs):
        f.write(b"partial bytes")  # some of the file is written, then the process "dies"
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path, weights_only=True)["global_step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def kill_midway_through_a_write(path: Path) -> None:
    """A process that ``write_atomically(path, ...)`` SIGKILLs halfway through: a fork of this one (the
    write needs nothing the test process lacks, and a fork starts in a millisecond, an interpreter in seconds)."""
    from torchtwolayer.files import write_atomically

    def dies(f):
        f.write(b"partial bytes")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # no chance to clean anything up

    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            write_atomically(path, dies, binary=True)
        finally:
            os._exit(1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == -signal.SIGKILL


@pytest.mark.parametrize("next_start", ["the next save", "fit --ckpt_path last"])
def test_a_save_killed_midway_leaves_no_temporary_file_after_the_next_start(next_start, tmp_path, monkeypatch):
    """SIGKILL while a checkpoint is written leaves its temporary file; the next save in that folder,
    or the next ``--ckpt_path last|best``, removes it, and only files named as a dead writer's
    temporaries: other files, other names, and a live writer's temporary stay as they were."""
    from torchtwolayer.lightning.checkpoints import AtomicCheckpointIO, find_checkpoint

    folder = tmp_path / "runs/torchtwolayer/version_0/checkpoints"
    folder.mkdir(parents=True)
    AtomicCheckpointIO().save_checkpoint({"global_step": 1}, folder / "last.ckpt")
    kill_midway_through_a_write(folder / "last.ckpt")
    (left,) = folder.glob(".last.ckpt.*.tmp")  # what the kill left
    older = folder / ".best.ckpt.0123456789ab.tmp"  # the name before the writer's pid was in it
    kept = [folder / n for n in ("notes.tmp", ".last.ckpt.tmp", ".last.ckpt.zz.tmp", "last.ckpt.0123456789ab.tmp",
                                 f".last.ckpt.{os.getpid()}-0123456789ab.tmp")]  # fmt: skip
    for path in (older, *kept):
        path.write_text("x")
    before = files_under(tmp_path)
    if next_start == "the next save":
        AtomicCheckpointIO().save_checkpoint({"global_step": 2}, folder / "last.ckpt")
    else:
        assert find_checkpoint("last", tmp_path / "runs", "torchtwolayer") == folder / "last.ckpt"
    assert not left.exists() and not older.exists()
    after = files_under(tmp_path)
    assert {k: v for k, v in after.items() if not k.endswith("last.ckpt")} == {
        k: v for k, v in before.items() if k not in (str(left), str(older)) and not k.endswith("last.ckpt")
    }
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == (2 if "save" in next_start else 1)
