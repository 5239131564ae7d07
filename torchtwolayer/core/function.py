r"""The network as ``torch.autograd.Function``\ s with the note's derivatives, by hand.

Two Functions share :mod:`torchtwolayer.equations`:

- :class:`TwoLayer` (:func:`two_layer`) gives the logits Z2 and composes with any
  loss downstream; its backward receives ∂J/∂Z2 from autograd.
- :class:`TwoLayerCost` (:func:`two_layer_cost`) fuses the network with the head's
  cost J; its backward starts literally from the note's dZ2 = A2 − Y.

Both have the note's backward, a forward-mode ``jvp`` written from the forward
equations, and the ``setup_context`` form that torch.func needs: ``grad``, ``vjp``,
``jacrev``, ``jacfwd``, ``hessian``, ``jvp`` and ``vmap`` (whose rule torch
generates by running the same code on batched tensors) all go through them.

First-order backward reuses A1 (and Z2) saved by forward. When the backward is
itself differentiated (``create_graph=True``: Hessian-vector products,
``gradgradcheck``, every torch.func transform; or a forward-mode dual level is
open: forward-over-reverse), A1 is rebuilt from the saved inputs so that
derivatives flow through it; the equations that follow are the same code.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor
from torch.autograd import Function

from . import compat, equations
from .activations import ACTIVATIONS, get_activation
from .heads import HEADS, Head, get_head
from .targets import check_target, dense_target
from .threads import CALL_WORK_PER_THREAD, step_work, threads_for
from .validation import check_parameters
from .values import check_values, probe_values


class _Function(Function):
    """A ``setup_context``-style Function whose ``apply`` skips, outside torch.func
    transforms, the ``inspect.signature`` binding of default arguments that
    ``Function.apply`` does on every call of such Functions (on small batches, more than the
    rest of the call). Callers pass every argument, positionally.
    Under a transform ``Function.apply`` runs unchanged; ``torch.compile`` traces
    the Function itself and never calls ``apply`` (see :func:`~.compat.fast_apply`)."""

    @classmethod
    def apply(cls, *args):
        return compat.fast_apply(cls, args)


def _backward_mode(upstream: Tensor) -> tuple[bool, bool]:
    """``(differentiated, in_place)`` for a backward call with this upstream gradient.

    differentiated: autograd records this backward (create_graph) or forward mode pushes tangents
    through it; then A1 must be a function of the inputs, not the saved constant.
    in_place: backward may write its intermediates in place: nothing records it, no torch.func
    transform, no compiling, and the upstream gradient is a plain tensor, not one batched by the vmap
    that ``autograd.grad(is_grads_batched=True)`` and gradcheck run over backward (in-place ops cannot
    take a batched operand into an unbatched tensor)."""
    if not compat.plain_eager():
        return torch.is_grad_enabled() or compat.dual_level_open(), False
    differentiated = torch.is_grad_enabled()
    return differentiated, not differentiated and type(upstream) is Tensor and not compat.is_batched_for_grads(upstream)


def _autocast_on(X: Tensor) -> bool:
    """Whether autocast is on for X's device."""
    return compat.autocast_enabled(_device_type(X))


def _save(ctx, *tensors: Tensor) -> None:
    """Save for backward and, where forward mode may ask for a jvp (a dual level is open, or a
    torch.func transform runs), the same tensors for it: vmap's generated rule keeps one set of
    batch dimensions for both lists. Elsewhere ``save_for_forward`` would be work for nothing."""
    ctx.save_for_backward(*tensors)
    if compat.dual_level_open() or compat.transforms_active():
        ctx.save_for_forward(*tensors)


def _device_type(t: Tensor) -> str:
    """``t.device.type``, a sixth of the time on the CPU (``Tensor.device`` builds an object)."""
    return "cpu" if t.is_cpu else t.device.type


def _autocast_dtype(X: Tensor) -> torch.dtype | None:
    """The lower precision autocast runs X's device in, or ``None`` when autocast is off there."""
    device = _device_type(X)
    if not compat.autocast_enabled(device):
        return None
    dtype = compat.autocast_dtype(device)
    return dtype if dtype != X.dtype else None


def _autocast_off(device: str) -> contextlib.AbstractContextManager:
    """Backward and jvp compute in the dtypes forward saw, even if called inside an autocast region."""
    return torch.autocast(device, enabled=False) if compat.autocast_enabled(device) else _NO_CONTEXT


def _backward_scope(X: Tensor, W1: Tensor, W2: Tensor) -> contextlib.AbstractContextManager:
    """What backward runs under: autocast off (:func:`_autocast_off`) and the thread rule
    (:func:`_threads`), as one context; the shared null context where neither has work to do."""
    autocast_off, threads = _autocast_off(_device_type(X)), _threads(X, W1, W2)
    if autocast_off is _NO_CONTEXT or threads is _NO_CONTEXT:
        return threads if autocast_off is _NO_CONTEXT else autocast_off
    both = contextlib.ExitStack()
    both.enter_context(autocast_off)
    both.enter_context(threads)
    return both


_NO_CONTEXT = contextlib.nullcontext()


class TwoLayer(_Function):
    """``(Z2, A1)``: Z2 = g(X W1ᵀ + b1) W2ᵀ + b2 with hand-written backward and jvp.

    A1 (m, n1) is returned, not differentiable, so that ``setup_context`` can save it.
    ``apply(X, W1, b1, W2, b2, activation)``, every argument given.
    """

    generate_vmap_rule = True  # vmap runs forward, backward and jvp on batched tensors: exact

    @staticmethod
    def forward(X, W1, b1, W2, b2, activation: str):
        A1 = equations.hidden(X, W1, b1, ACTIVATIONS[activation])  # (m, n1)
        return equations.output(A1, W2, b2), A1  # (m, n2), (m, n1)

    @staticmethod
    def setup_context(ctx, inputs, outputs):
        X, W1, b1, W2, _b2, activation = inputs
        A1 = outputs[1]
        ctx.g = ACTIVATIONS[activation]
        ctx.mark_non_differentiable(A1)
        ctx.set_materialize_grads(False)  # no zeros for A1's (absent) gradient
        _save(ctx, X, W1, b1, W2, A1)

    @staticmethod
    def backward(ctx, dZ2, _dA1):
        if dZ2 is None:  # no gradient reached Z2 (gradcheck's undefined-gradient check)
            return (None,) * 6
        X, W1, b1, W2, A1 = ctx.saved_tensors
        g = ctx.g
        differentiated, inplace = _backward_mode(dZ2)
        if inplace and dZ2.dtype == A1.dtype and not _autocast_on(X):  # the usual call: nothing else around
            with _thread_rule(X, W1, W2):
                return (*equations.backward(dZ2, X, A1, W1, W2, g, ctx.needs_input_grad[:5], True), None)
        with _backward_scope(X, W1, W2):
            if differentiated:  # make A1 a function of the inputs
                A1 = equations.hidden(X, W1, b1, g)
            dZ2 = dZ2 if dZ2.dtype == A1.dtype else dZ2.to(A1.dtype)
            grads = equations.backward(dZ2, X, A1, W1, W2, g, ctx.needs_input_grad[:5], inplace)
        return (*grads, None)

    @staticmethod
    def jvp(ctx, dX, dW1, db1, dW2, db2, _):
        X, W1, _b1, W2, A1 = ctx.saved_tensors
        with _autocast_off(_device_type(X)):
            dA1 = equations.hidden_tangent(dX, dW1, db1, X, W1, A1, ctx.g)  # (m, n1)
            dZ2 = equations.output_tangent(dA1, dW2, db2, A1, W2)  # (m, n2)
        return dZ2, None


class TwoLayerCost(_Function):
    """``(J, Z2, A1)``: J = (1/m) Σ L(A2, Y), with the note's backward from dZ2 = A2 − Y.

    Z2 and A1 are by-products, not differentiable: Z2 for metrics at no extra cost,
    A1 for ``setup_context`` to save. J is computed in ``cost_dtype`` (float32
    under autocast, where the network runs in bfloat16).
    ``apply(X, Y, W1, b1, W2, b2, activation, output, cost_dtype)``, every argument given.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(X, Y, W1, b1, W2, b2, activation: str, output: str, cost_dtype: torch.dtype):
        A1 = equations.hidden(X, W1, b1, ACTIVATIONS[activation])  # (m, n1)
        Z2 = equations.output(A1, W2, b2)  # (m, n2)
        Zc = Z2 if Z2.dtype == cost_dtype else Z2.to(cost_dtype)
        J = HEADS[output].cost(Zc, dense_target(Y, W2.shape[0], cost_dtype))  # ()
        return J, Z2, A1

    @staticmethod
    def setup_context(ctx, inputs, outputs):
        _, Z2, A1 = outputs
        ctx.mark_non_differentiable(Z2, A1)
        X, Y, W1, b1, W2, b2, activation, output, cost_dtype = inputs
        _keep_for_cost_backward(ctx, (X, Y, W1, b1, W2, b2), ACTIVATIONS[activation], HEADS[output], cost_dtype, Z2, A1)

    @staticmethod
    def backward(ctx, dJ, *_dZ2_dA1):
        needs = ctx.needs_input_grad  # (X, Y, W1, b1, W2, b2, then the settings)
        if dJ is None:  # no gradient reached J (gradcheck's undefined-gradient check)
            return (None,) * len(needs)
        X, Y, W1, b1, W2, b2, A1, Z2 = ctx.saved_tensors
        g, head = ctx.g, ctx.head
        wanted = (needs[0], needs[2], needs[3], needs[4], needs[5])  # dX, dW1, db1, dW2, db2
        differentiated, inplace = _backward_mode(dJ)
        usual = inplace and Z2.dtype == ctx.cost_dtype and Y.is_floating_point() and not needs[1]
        if usual and not _autocast_on(X):  # the usual call: the equations with only the thread rule around
            with _thread_rule(X, W1, W2):
                scale = _scale(dJ, X.shape[0], True)
                grads = equations.cost_backward(Z2, Y, X, A1, W1, W2, g, head, scale, wanted, True)
            return (grads.dX, None, grads.dW1, grads.db1, grads.dW2, grads.db2) + (None,) * (len(needs) - 6)
        with _backward_scope(X, W1, W2):
            if differentiated:  # make A1, Z2 functions of the inputs
                A1 = equations.hidden(X, W1, b1, g)
                Z2 = equations.output(A1, W2, b2)
            Z2, Y = _in_cost_dtype(Z2, Y, W2.shape[0], ctx.cost_dtype)  # (m, n2), (m, n2)
            scale = _scale(dJ, X.shape[0], inplace)  # the note's 1/m, and the upstream gradient, applied once
            grads = equations.cost_backward(Z2, Y, X, A1, W1, W2, g, head, scale, wanted, inplace)
            dY = head.target_grad(Z2, Y) * scale if needs[1] else None
        return (grads.dX, dY, grads.dW1, grads.db1, grads.dW2, grads.db2) + (None,) * (len(needs) - 6)

    @staticmethod
    def jvp(ctx, dX, dY, dW1, db1, dW2, db2, *_):
        X, Y, W1, _b1, W2, _b2, A1, Z2 = ctx.saved_tensors
        with _autocast_off(_device_type(X)):
            dA1 = equations.hidden_tangent(dX, dW1, db1, X, W1, A1, ctx.g)  # (m, n1)
            dZ2 = equations.output_tangent(dA1, dW2, db2, A1, W2)  # (m, n2)
            Z2, Y = _in_cost_dtype(Z2, Y, W2.shape[0], ctx.cost_dtype)
            dJ = equations.cost_tangent(dZ2, dY, Z2, Y, ctx.head)  # ()
        return dJ, None, None


class _TwoLayerEager(Function):
    """:class:`TwoLayer` for plain eager calls (see :class:`_TwoLayerCostEager`): returns Z2 alone, A1
    saved as an intermediate; the same backward (:meth:`TwoLayer.backward`).
    ``apply(X, W1, b1, W2, b2, g)``, every argument given."""

    @staticmethod
    def forward(ctx, X, W1, b1, W2, b2, g):
        A1 = equations.hidden(X, W1, b1, g)  # (m, n1)
        ctx.g = g
        _save(ctx, X, W1, b1, W2, A1)
        return equations.output(A1, W2, b2)  # (m, n2)

    @staticmethod
    def backward(ctx, dZ2):
        return TwoLayer.backward(ctx, dZ2, None)


class _TwoLayerCostEager(Function):
    """:class:`TwoLayerCost` for plain eager calls: no torch.func transform, no forward-mode dual
    level, no compiling, no autocast. The legacy ``forward(ctx, ...)`` form saves A1 as an intermediate
    instead of returning it, which spares autograd an output and ``setup_context``'s Python call, and
    takes the activation and head themselves. Same forward, same backward (:meth:`TwoLayerCost.backward`,
    looked up at each call: one backward to patch or spy on); returns ``(J, Z2)``.
    ``apply(X, Y, W1, b1, W2, b2, g, head)``, every argument given."""

    @staticmethod
    def forward(ctx, X, Y, W1, b1, W2, b2, g, head):
        A1 = equations.hidden(X, W1, b1, g)  # (m, n1)
        Z2 = equations.output(A1, W2, b2)  # (m, n2)
        Y = dense_target(Y, W2.shape[0], Z2.dtype)  # (m, n2), kept so: backward need not build it again
        J = head.cost(Z2, Y)  # ()
        ctx.mark_non_differentiable(Z2)
        _keep_for_cost_backward(ctx, (X, Y, W1, b1, W2, b2), g, head, Z2.dtype, Z2, A1)
        return J, Z2

    @staticmethod
    def backward(ctx, *grads):
        return TwoLayerCost.backward(ctx, *grads)


def _scale(dJ: Tensor, m: int, plain: bool) -> Tensor | float:
    """dJ/m. A plain CPU dJ (nothing records this backward, nothing batches it) is read as a number:
    a host read of one value costs less than the tensor division, and multiplying by a number is cheaper."""
    return dJ.item() / m if plain and dJ.is_cpu else dJ / m


def _keep_for_cost_backward(ctx, tensors: tuple, g, head, cost_dtype: torch.dtype, Z2: Tensor, A1: Tensor) -> None:
    """What :meth:`TwoLayerCost.backward` reads: the tensors (X, Y, W1, b1, W2, b2), A1, Z2, g, the head
    and the cost's dtype."""
    ctx.g, ctx.head, ctx.cost_dtype = g, head, cost_dtype
    ctx.set_materialize_grads(False)  # no zeros for Z2's and A1's (absent) gradients
    _save(ctx, *tensors, A1, Z2)


def _eager(X: Tensor) -> bool:
    """Whether a call on X is plain eager autograd, the eager classes' calls: no torch.func transform,
    no forward-mode dual level (which would ask for a jvp), not traced by torch.compile, no autocast
    on X's device."""
    return compat.plain_eager() and not _autocast_on(X)


class _TwoLayerCompiled(TwoLayer):
    """:class:`TwoLayer` as ``torch.compile`` sees it: without ``jvp``, which dynamo cannot
    trace (torch 2.13: "Unsupported custom jvp", a graph break). Compiled code keeps the backward."""

    jvp = Function.jvp


class _TwoLayerCostCompiled(TwoLayerCost):
    """:class:`TwoLayerCost` as ``torch.compile`` sees it (see :class:`_TwoLayerCompiled`)."""

    jvp = Function.jvp


def _threads(X: Tensor, W1: Tensor, W2: Tensor) -> contextlib.AbstractContextManager:
    """The package's thread rule (:mod:`~torchtwolayer.threads`) for one pass over this batch;
    nothing while torch.compile traces (it owns the threads of compiled code)."""
    if compat.is_compiling():  # (first: dynamo cannot trace the count)
        return _NO_CONTEXT
    return _thread_rule(X, W1, W2)


def _thread_rule(X: Tensor, W1: Tensor, W2: Tensor) -> contextlib.AbstractContextManager:
    """:func:`_threads` where torch.compile is known not to trace."""
    if torch.get_num_threads() == 1:
        return _NO_CONTEXT
    work = step_work(X.shape[0], X.shape[1], W1.shape[0], W2.shape[0])
    return threads_for(work, _device_type(X), CALL_WORK_PER_THREAD)  # one call in the caller's loop


def _in_cost_dtype(Z2: Tensor, Y: Tensor, n2: int, cost_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Z2 and Y dense (m, n2), both in the cost's dtype (Z2 differs from it under autocast)."""
    if Z2.dtype != cost_dtype:
        Z2 = Z2.to(cost_dtype)
    return Z2, dense_target(Y, n2, cost_dtype)


def _autocast_inputs(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors in the lower precision autocast runs X's device in (the first is X), or as they are."""
    dtype = _autocast_dtype(tensors[0])
    return tensors if dtype is None else tuple(t.to(dtype) for t in tensors)


def logits(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: str) -> Tensor:
    """Z2 through :class:`TwoLayer`, arguments already checked, X's values after the fact
    (:mod:`~torchtwolayer.core.values`). Under autocast the inputs are cast once, here, where autograd
    records the casts (their gradients come back in each input's dtype)."""
    if _eager(X):
        with _thread_rule(X, W1, W2):
            Z2 = compat.fast_apply(_TwoLayerEager, (X, W1, b1, W2, b2, ACTIVATIONS[activation]), 5)
        probe_values(X)
        return Z2
    fn = _TwoLayerCompiled if compat.is_compiling() else TwoLayer
    with _threads(X, W1, W2):
        Z2 = fn.apply(*_autocast_inputs(X, W1, b1, W2, b2), activation)[0]
    check_values(X)
    return Z2


def cost_and_logits(
    X: Tensor, Y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: str, head: Head
) -> tuple[Tensor, Tensor]:
    """(J, Z2) through :class:`TwoLayerCost`, arguments already checked (Y as
    :func:`~.targets.check_target` returns it), the values of X and Y after the fact
    (:mod:`~torchtwolayer.core.values`). Under autocast the network runs in its dtype and J stays in
    X's (float32), as autocast does for losses."""
    n2 = W2.shape[0]
    if _eager(X):
        with _thread_rule(X, W1, W2):
            J, Z2 = compat.fast_apply(_TwoLayerCostEager, (X, Y, W1, b1, W2, b2, ACTIVATIONS[activation], head), 6)
        probe_values(X, Y, head, n2, J)
        return J, Z2
    fn = _TwoLayerCostCompiled if compat.is_compiling() else TwoLayerCost
    Xc, W1c, b1c, W2c, b2c = _autocast_inputs(X, W1, b1, W2, b2)
    with _threads(X, W1, W2):
        J, Z2, _ = fn.apply(Xc, Y, W1c, b1c, W2c, b2c, activation, head.name, X.dtype)
    check_values(X, Y, head, n2, J)
    return J, Z2


def two_layer(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, activation: str = "tanh") -> Tensor:
    r"""The logits of the one-hidden-layer network, with hand-written derivatives.

    .. math::

        Z^{[2]} = g(X W^{[1]T} + b^{[1]})\, W^{[2]T} + b^{[2]}

    Works under autograd (any order), forward-mode AD and every torch.func transform.

    Args:
        X: inputs, one example per row.
        W1, b1, W2, b2: parameters with ``nn.Linear`` shapes.
        activation: hidden activation ``g``: ``"tanh"``, ``"sigmoid"``, ``"relu"``,
            ``"leaky_relu"`` or ``"identity"``.

    Shape:
        - X: (m, n0); W1: (n1, n0); b1: (n1,); W2: (n2, n1); b2: (n2,)
        - Output Z2: (m, n2)

    Example:
        >>> import torch
        >>> from torchtwolayer import two_layer
        >>> X = torch.randn(5, 3)
        >>> W1, b1, W2, b2 = torch.randn(4, 3), torch.zeros(4), torch.randn(2, 4), torch.zeros(2)
        >>> two_layer(X, W1, b1, W2, b2).shape
        torch.Size([5, 2])
    """
    get_activation(activation)
    check_parameters(X, W1, b1, W2, b2)
    return logits(X, W1, b1, W2, b2, activation)


def two_layer_cost(
    X: Tensor,
    Y: Tensor,
    W1: Tensor,
    b1: Tensor,
    W2: Tensor,
    b2: Tensor,
    activation: str = "tanh",
    output: str = "sigmoid",
) -> Tensor:
    r"""The network and its cost J in one Function, with the note's backward.

    .. math::

        J = \frac{1}{m} \sum_{i=1}^{m} \mathcal{L}(A^{[2]}_i, Y_i), \qquad
        \frac{\partial J}{\partial Z^{[2]}} = \frac{1}{m}(A^{[2]} - Y)

    with :math:`\mathcal{L}` the binary cross-entropy summed over outputs
    (``output="sigmoid"``), the cross-entropy (``"softmax"``) or
    :math:`\tfrac12\lVert A^{[2]} - Y\rVert^2` (``"identity"``).
    Works under autograd (any order), forward-mode AD and every torch.func transform;
    Y's values are checked on the data under the transform's wrappers.

    Args:
        X: inputs, one example per row.
        Y: targets. sigmoid: values in [0, 1], (m, n2) or (m,) when n2 = 1;
            softmax: class indices (m,) or probabilities (m, n2);
            identity: (m, n2) or (m,) when n2 = 1.
        W1, b1, W2, b2: parameters with ``nn.Linear`` shapes.
        activation: hidden activation ``g``.
        output: head: ``"sigmoid"``, ``"softmax"`` or ``"identity"``.

    Shape:
        - X: (m, n0); W1: (n1, n0); b1: (n1,); W2: (n2, n1); b2: (n2,)
        - Output J: () — a scalar

    Example:
        >>> import torch
        >>> from torchtwolayer import two_layer_cost
        >>> X, Y = torch.tensor([[0.0, 1.0]]), torch.tensor([1.0])
        >>> W1, b1 = torch.zeros(3, 2, requires_grad=True), torch.zeros(3)
        >>> W2, b2 = torch.zeros(1, 3), torch.zeros(1, requires_grad=True)
        >>> J = two_layer_cost(X, Y, W1, b1, W2, b2)
        >>> round(J.item(), 4)  # log 2: A2 = 0.5
        0.6931
        >>> J.backward(); b2.grad  # db2 = A2 − Y = −0.5
        tensor([-0.5000])
    """
    return two_layer_cost_and_logits(X, Y, W1, b1, W2, b2, activation, output)[0]


def two_layer_cost_and_logits(
    X: Tensor,
    Y: Tensor,
    W1: Tensor,
    b1: Tensor,
    W2: Tensor,
    b2: Tensor,
    activation: str = "tanh",
    output: str = "sigmoid",
) -> tuple[Tensor, Tensor]:
    """:func:`two_layer_cost` and the logits Z2 (m, n2) it computed on the way, not differentiable
    (also under torch.func transforms, where J is and Z2 is not)."""
    get_activation(activation)
    head = get_head(output)
    check_parameters(X, W1, b1, W2, b2)
    Y = check_target(Y, X.shape[0], W2.shape[0], head, X.dtype)
    return cost_and_logits(X, Y, W1, b1, W2, b2, activation, head)
