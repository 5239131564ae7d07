"""Data-parallel training with Lightning's DDP on 2 CPU processes (gloo) matches one process."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import QUIET, weights, write_csv

# A short process-group timeout: a failing rank cannot hang CI.
DDP = '{"class_path": "lightning.pytorch.strategies.DDPStrategy", "init_args": {"process_group_backend": "gloo", "timeout": "0:01:30"}}'  # noqa: E501
TWO_CPUS = ["--trainer.devices", "2", "--trainer.accelerator", "cpu"]


def run_cli(args: list[str], cwd: Path, timeout: int = 240) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchtwolayer", *args, *QUIET], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every rank it started
        raise
    assert proc.returncode == 0, out[-4000:]
    return out


def trained_weights(cwd: Path) -> dict[str, torch.Tensor]:
    return weights(next(cwd.glob("runs/torchtwolayer/version_0/checkpoints/last.ckpt")))


@pytest.mark.parametrize(
    "setting",
    [["--data.full_batch_steps", "50", "--trainer.max_steps", "150"],
     ["--data.dataset", "moons", "--data.batch_size", "32", "--trainer.max_steps", "150"]],
    ids=["full-batch", "batch-32"],
)  # fmt: skip
def test_two_ddp_processes_give_the_weights_of_one(setting, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    run_cli(["fit", *setting], one)
    out = run_cli(["fit", *setting, "--trainer.strategy", DDP, *TWO_CPUS], two)
    assert "Finished after 150 steps" in out and "val   loss" in out
    w1, w2 = trained_weights(one), trained_weights(two)
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=0, atol=1e-5)


def test_ddp_predict_writes_one_complete_ordered_file(tmp_path):
    data = write_csv(tmp_path / "data.csv", n=101)
    run_cli(["fit", "--data.dataset", str(data), "--trainer.max_steps", "50"], tmp_path)
    ckpt = "runs/torchtwolayer/version_0/checkpoints/last.ckpt"
    base = ["predict", "--ckpt_path", ckpt, "--data.dataset", str(data)]
    run_cli([*base, "--output", "one.csv"], tmp_path)
    out = run_cli([*base, "--output", "two.csv", "--trainer.strategy", DDP, *TWO_CPUS], tmp_path)
    assert "Wrote 101 predictions to two.csv" in out
    one = [line.split(",") for line in (tmp_path / "one.csv").read_text().splitlines()]
    two = [line.split(",") for line in (tmp_path / "two.csv").read_text().splitlines()]
    assert len(two) == len(one) == 102 and two[0] == one[0]
    for a, b in zip(one[1:], two[1:], strict=True):
        assert a[0] == b[0] and abs(float(a[1]) - float(b[1])) < 1e-6


@pytest.mark.skipif(
    not os.environ.get("TORCHTWOLAYER_TEST_DDP_SPAWN"),
    reason="opt-in: a spawned worker once aborted at exit in CI ('terminate called without an active exception'); "
    "the module now destroys the process group in spawned workers, but that is not yet proven over many runs; "
    "set TORCHTWOLAYER_TEST_DDP_SPAWN=1",
)
def test_ddp_spawn_trains_too(tmp_path):
    out = run_cli(
        ["fit", "--trainer.strategy", "ddp_spawn", *TWO_CPUS, "--trainer.max_steps", "100",
         "--data.full_batch_steps", "50"], tmp_path,
    )  # fmt: skip
    assert "Finished after 100 steps" in out
