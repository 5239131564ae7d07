"""``torch.export`` of the network: the hand-written Function is recorded, with a dynamic batch."""

import pytest
import torch

from torchtwolayer import TwoLayerNet


@pytest.mark.parametrize("strict", [False, True], ids=["non-strict", "strict"])
def test_torch_export_of_the_network_has_a_dynamic_batch(strict):
    """The program runs at batch sizes other than the example's, equal to eager."""
    net = TwoLayerNet(3, 5, 4, activation="tanh", output="softmax", seed=0)
    batch = torch.export.Dim("batch")
    program = torch.export.export(net, (torch.randn(7, 3),), dynamic_shapes={"X": {0: batch}}, strict=strict)
    for m in (1, 33):
        X = torch.randn(m, 3)
        torch.testing.assert_close(program.module()(X), net(X), rtol=1e-6, atol=1e-6)
