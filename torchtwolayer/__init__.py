"""torchtwolayer: the one-hidden-layer network with a hand-written, verified backward."""

from .core.activations import ACTIVATIONS
from .core.function import TwoLayer, TwoLayerCost, two_layer, two_layer_cost, two_layer_cost_and_logits
from .core.gradient_descent import GradientDescent, gradient_descent_step
from .core.heads import HEADS
from .core.initializers import INITS
from .core.module import TwoLayerNet
from .core.per_sample import PerSampleGradients, per_sample_grads, register_opacus
from .core.reference import reference_cost, reference_logits

__all__ = [
    "ACTIVATIONS",
    "HEADS",
    "INITS",
    "GradientDescent",
    "PerSampleGradients",
    "TwoLayer",
    "TwoLayerCost",
    "TwoLayerNet",
    "gradient_descent_step",
    "per_sample_grads",
    "reference_cost",
    "reference_logits",
    "register_opacus",
    "two_layer",
    "two_layer_cost",
    "two_layer_cost_and_logits",
]
__version__ = "0.1.0"
