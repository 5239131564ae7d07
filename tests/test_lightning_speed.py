"""What trims Lightning's per-batch work keeps as it was: the profiler the command uses (and the one
given instead), the checkpoint callbacks that do nothing per batch, and the benchmark's clock of
calls (issue 23)."""

import pytest
from helpers import QUIET, ROOT
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.profilers import SimpleProfiler

from torchtwolayer.lightning.callbacks import TableEarlyStopping
from torchtwolayer.lightning.cli import lightning_main
from torchtwolayer.lightning.kept import MONITOR, BestCheckpoint, EpochCheckpoint, checkpoint_callbacks
from torchtwolayer.lightning.profiler import NoProfiler


@pytest.mark.parametrize(("given", "made"), [([], NoProfiler), (["--trainer.profiler", "simple"], SimpleProfiler)])
def test_the_command_uses_no_profiler_unless_one_is_given(given, made, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = lightning_main(["fit", *QUIET, "--trainer.max_steps", "3", "--data.full_batch_steps", "3", *given], -1)
    assert type(cli.trainer.profiler) is made and cli.trainer.global_step == 3


def test_no_profiler_profiles_nothing_and_nests():
    profiler = NoProfiler()
    with profiler.profile("outer"), profiler.profile("inner"):
        pass
    assert profiler.summary() == ""


def test_the_checkpoint_callbacks_keep_model_checkpoints_state_key():
    """A run saved by a plain ModelCheckpoint resumes with these: same key, same state."""
    last, best = checkpoint_callbacks(True)
    assert isinstance(last, EpochCheckpoint) and isinstance(best, BestCheckpoint)
    assert last.state_key == ModelCheckpoint(filename="last", save_top_k=1, enable_version_counter=False).state_key
    plain = ModelCheckpoint(monitor=MONITOR, mode="min", filename="best", auto_insert_metric_name=False)
    assert best.state_key == plain.state_key != last.state_key
    assert [type(c) for c in checkpoint_callbacks(False)] == [EpochCheckpoint]  # no validation: last.ckpt only


def test_a_tables_early_stopping_keeps_early_stoppings_state_key():
    ours = TableEarlyStopping(MONITOR, patience=3, mode="min", strict=False)
    assert ours.state_key == EarlyStopping(MONITOR, patience=3, mode="min").state_key


def test_an_epoch_checkpoint_refuses_per_step_triggers():
    with pytest.raises(TypeError, match="every_n_train_steps"):
        EpochCheckpoint(every_n_train_steps=10)


def test_the_benchmarks_call_clock_counts_each_batchs_calls(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from scripts.benchmark.common import tabular_data
    from scripts.benchmark.lightning import CallCounter, bare_loop, per_batch

    X, Y = tabular_data(64)
    counter = CallCounter()
    with counter.counting():
        trivial, net = bare_loop(X, Y, 16, 2, counter, trivial=True), bare_loop(X, Y, 16, 2, counter)
    calls = per_batch([trivial]), per_batch([net])
    assert 0 < calls[0] < calls[1]  # the network's step makes more calls than a one-weight step
    assert len(trivial.intervals()) == 1 and len(trivial.intervals()[0]) == 4  # epochs after the first, per batch
