"""Killed runs resume to the same weights; divergence stops cleanly; runs are reproducible."""

import os
import signal
from pathlib import Path

import pytest
import torch
from child_process import KILLED
from helpers import QUIET, files_under, fit, weights

from torchtwolayer.lightning.cli import lightning_main
from torchtwolayer.lightning.module import DivergenceError


def final_weights(root: Path) -> dict[str, torch.Tensor]:
    ckpts = sorted(root.glob("runs/torchtwolayer/version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return weights(ckpts[-1])


@pytest.fixture(scope="module")
def killed_runs(child_process) -> dict[str, tuple[Path, int, str]]:
    """Each mode's run killed at its step, a fork of the suite's child process (tests/child_process.py):
    its folder, exit status and standard error."""
    return {name: (Path(folder), status, err) for name, (folder, status, err) in child_process["killed"].items()}


@pytest.mark.parametrize("mode", KILLED)
def test_kill_then_resume_from_last_gives_the_uninterrupted_weights(mode, killed_runs, tmp_path, monkeypatch):
    args, _, saved_step, signum = KILLED[mode]
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
