"""The Lightning module trains through the hand-written Function."""

import pytest
from helpers import fit


@pytest.mark.parametrize("data", [["--data.batch_size", "0"], ["--data.dataset", "moons", "--data.batch_size", "32"]])
def test_fit_calls_the_notes_backward_once_per_training_step(data, tmp_path, monkeypatch, backward_calls):
    monkeypatch.chdir(tmp_path)
    assert fit(*data, "--trainer.max_steps", "30", "--data.full_batch_steps", "10") == 0
    assert len(backward_calls) == 30
