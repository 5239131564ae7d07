"""The estimators' hyperparameters, declared once: each one's default, check and description.

:data:`PARAMETERS` is the one declaration: the estimators' ``__init__`` take their defaults from
it (:data:`DEFAULTS`), ``fit`` checks every value with :func:`check_parameters`, and the ``Args``
section of their docstrings is :func:`parameters_doc`. scikit-learn's own ``_parameter_constraints``
is not used: its machinery (``sklearn.utils._param_validation``) is private and may change in any
release; a bad value gets a ``ValueError``/``TypeError`` naming the parameter, what it must be and
what was given, as scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and ``TypeError``) does.
"""

from __future__ import annotations

import math
import numbers
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from ..core.activations import ACTIVATIONS
from ..core.initializers import INITS

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Parameter:
    """One hyperparameter: its ``default``, its ``check(name, value)`` and its ``doc``."""

    default: Any
    check: Callable[[str, Any], None]
    doc: str


def is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _positive_int(name: str, value: object) -> None:
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _real(low: float, high: float = math.inf, low_open: bool = False) -> Callable[[str, Any], None]:
    """A check for a finite number in [low, high) (or (low, high))."""

    def check(name: str, value: object) -> None:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
        if not (ok and (value > low if low_open else value >= low) and value < high):
            bracket = "(" if low_open else "["
            raise ValueError(f"{name} must be a finite number in {bracket}{low}, {high}), got {value!r}")

    return check


def _choice(choices: list[str]) -> Callable[[str, Any], None]:
    def check(name: str, value: object) -> None:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")

    return check


def _boolean(name: str, value: object) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _batch_size(name: str, value: object) -> None:
    if not (value in ("auto", "full") or (is_int(value) and value >= 1)):
        raise ValueError(
            f"{name} must be 'auto' (min(200, n_samples)), 'full' (the note's full batch) "
            f"or a positive integer, got {value!r}"
        )


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """The torch dtype named by the ``dtype`` parameter (not ``None``)."""
    if dtype in DTYPES.values():
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'float32', 'float64' or None (X's dtype), got {dtype!r}")
    return DTYPES[dtype]


def _dtype(name: str, value: object) -> None:
    if value is not None:
        torch_dtype(value)


def _device(name: str, value: object) -> None:
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{name} must name a torch device such as 'cpu' or 'cuda', got {value!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={value!r} but torch.cuda.is_available() is False; use {name}='cpu'")


def _any(name: str, value: object) -> None:
    """No check here: ``random_state`` goes to ``check_random_state``, which names a bad one."""


PARAMETERS: dict[str, Parameter] = {
    "hidden_size": Parameter(100, _positive_int, "hidden units n1."),
    "activation": Parameter(
        "relu",
        _choice(sorted(ACTIVATIONS)),
        "g: ``relu`` (MLP's; within a point of MLPClassifier on every small table of "
        "``scripts/sklearn_defaults.py``, where ``tanh`` lost up to 7 points), ``tanh`` (the note's), "
        "``sigmoid``, ``leaky_relu``, ``identity``.",
    ),
    "lr": Parameter(0.1, _real(0, low_open=True), "the learning rate α."),
    "batch_size": Parameter(
        "auto",
        _batch_size,
        'rows per step: ``"auto"`` = min(200, n_samples) (MLP\'s), ``"full"`` for the '
        "note's full batch, or an integer (clipped to n_samples).",
    ),
    "max_iter": Parameter(
        200, _positive_int, "epochs (passes over the data); a ``ConvergenceWarning`` if reached without stopping."
    ),
    "tol": Parameter(
        1e-4,
        _real(0),
        "stop when the training loss (the validation score with ``early_stopping``) has not "
        "improved by ``tol`` for more than ``n_iter_no_change`` epochs in a row (MLP's rule).",
    ),
    "n_iter_no_change": Parameter(10, _positive_int, "the epochs without improvement that ``tol`` allows."),
    "early_stopping": Parameter(
        False,
        _boolean,
        "hold out ``validation_fraction`` of the rows (stratified for binary y), score them "
        "every epoch (accuracy, or R² for the regressor), stop as ``tol`` says and keep the best epoch's weights.",
    ),
    "validation_fraction": Parameter(0.1, _real(0, 1, low_open=True), "the held-out share, in (0, 1)."),
    "momentum": Parameter(0.0, _real(0, 1), "SGD momentum (``torch.optim.SGD``'s, the same updates as MLP's)."),
    "nesterov": Parameter(False, _boolean, "Nesterov's momentum (needs ``momentum > 0``)."),
    "alpha": Parameter(
        0.0,
        _real(0),
        "L2 penalty on W1 and W2, as MLP's: the gradient gains α W / (batch size × mean sample "
        "weight), that is α W / Σw on a full batch.",
    ),
    "init": Parameter(
        "xavier", _choice(list(INITS)), "``xavier``, ``kaiming``, ``course`` (N(0, 0.01²)), ``pytorch``."
    ),
    "random_state": Parameter(None, _any, "seeds the initial weights, the batch order and the validation split."),
    "warm_start": Parameter(
        False,
        _boolean,
        "``fit`` continues from the fitted weights; if ``hidden_size`` or ``activation`` changed "
        "since, it starts from scratch with the new network.",
    ),
    "verbose": Parameter(False, _any, "print the loss (and validation score) of every epoch."),
    "device": Parameter(
        "cpu",
        _device,
        'where the network trains and predicts (``"cpu"`` runs the fused '
        ":class:`~torchtwolayer.GradientDescent`; others the Function and ``torch.optim.SGD``).",
    ),
    "dtype": Parameter(
        None, _dtype, '``"float32"``, ``"float64"`` or ``None`` (X\'s floating dtype, float64 for most inputs).'
    ),
}

DEFAULTS = SimpleNamespace(**{name: p.default for name, p in PARAMETERS.items()})


def check_parameters(values: dict[str, Any]) -> None:
    """Every value checked against :data:`PARAMETERS` (scikit-learn checks them at ``fit``)."""
    for name, parameter in PARAMETERS.items():
        parameter.check(name, values[name])
    if values["nesterov"] and not values["momentum"]:
        raise ValueError("nesterov=True needs momentum > 0")


def parameters_doc(indent: str = "    ") -> str:
    """The ``Args:`` section of a docstring: each parameter, its description and its default."""
    lines = ["Args:"]
    for name, p in PARAMETERS.items():
        text = f"{name}: {p.doc} Default: ``{p.default!r}``."
        lines += textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent * 2)
    return "\n".join(lines)


def document(cls: type) -> type:
    """Put :func:`parameters_doc` in place of ``{parameters}`` in ``cls``'s docstring (a class body's indent)."""
    cls.__doc__ = cls.__doc__.replace("{parameters}", textwrap.indent(parameters_doc(), "    ").lstrip())
    return cls
