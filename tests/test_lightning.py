"""The Lightning module trains through the hand-written Function."""

import pytest
from helpers import fit

from torchtwolayer.core.function import TwoLayerCost


@pytest.mark.parametrize("data", [["--data.batch_size", "0"], ["--data.dataset", "moons", "--data.batch_size", "32"]])
def test_fit_calls_the_notes_backward_once_per_training_step(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    backward = TwoLayerCost.backward

    def counted(ctx, *grads):
        calls.append(1)
        return backward(ctx, *grads)

    monkeypatch.setattr(TwoLayerCost, "backward", staticmethod(counted))
    assert fit(*data, "--trainer.max_steps", "30", "--data.full_batch_steps", "10") == 0
    assert len(calls) == 30
