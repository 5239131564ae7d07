"""The note's math: activations and heads, the equations, the hand-written autograd Functions,
``TwoLayerNet``, the fused ``GradientDescent`` and the autograd reference. Needs torch alone."""
