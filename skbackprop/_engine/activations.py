"""Activation functions g and their derivatives, as in-place array functions.

``HIDDEN_ACTIVATIONS[name]`` is an :class:`Activation`: the forward map, the
first derivative for the backward pass, the first and second derivatives for
the R-operator, and two facts about ``g``.  Its keys are the names the
estimators accept.  ``OUTPUT_ACTIVATIONS[name](Z)`` turns the output layer's
``Z`` into ``A(L)`` in place.

The backward pass takes ``g'(Z)`` from the layer's *output* ``A`` where ``g``
is invertible (identity, logistic, tanh, ReLU, leaky ReLU, softplus, ELU), so
that the forward cascade keeps no ``Z``.  GELU and SiLU are not invertible:
their layers keep ``Z`` in a buffer of their own (``needs_z``).

Adding an activation is three small functions and one table entry (and its
ONNX builder in ``skbackprop/_onnx_graph.py``).
"""

import math
from typing import NamedTuple

import numpy as np
from scipy.special import expit, ndtr

# The slope of leaky ReLU for z < 0: PyTorch's default ``negative_slope``.
NEGATIVE_SLOPE = 0.01

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Activation(NamedTuple):
    """One hidden activation ``g``.

    * ``forward(Z, out=None)``: ``g(Z)`` into ``out`` (``Z`` itself when
      None); returns it.
    * ``derivative(A, Z, delta)``: multiplies the signal ``delta`` in place by
      ``g'(Z)`` (the hidden signal ``d(l) = (d(l+1) W(l+1)') .* g'(Z(l))``),
      from ``A = g(Z)``, or from ``Z`` when ``needs_z``.  ``A`` and ``Z`` may
      be overwritten: the backward pass calls it after their last use.
    * ``second(A, Z)``: new arrays ``(g'(Z), g''(Z))``, for the R-operator.
    * ``needs_z``: ``g'`` needs ``Z`` (``g`` is not invertible); otherwise
      ``Z`` may be None.
    * ``monotone``: ``g`` is nondecreasing (required by monotonic constraints).
    """

    forward: object
    derivative: object
    second: object
    needs_z: bool
    monotone: bool


# -- forward maps ---------------------------------------------------------------
def _identity(Z, out=None):
    if out is None or out is Z:
        return Z
    np.copyto(out, Z)
    return out


def _logistic(Z, out=None):
    # expit is evaluated without overflow for any |z|.
    return expit(Z, out=Z if out is None else out)


def _tanh(Z, out=None):
    return np.tanh(Z, out=Z if out is None else out)


def _relu(Z, out=None):
    # Against a row of zeros, not the scalar 0: numpy's contiguous loop is
    # 1.4x (float64) to 2.5x (float32) faster than its scalar one here.
    zeros = np.zeros(Z.shape[-1:], Z.dtype)
    return np.maximum(Z, zeros, out=Z if out is None else out)


# Leaky ReLU and ELU use a temporary array: numpy's masked ufuncs
# (``where=Z < 0``) were 7-10x slower than these unmasked ones.


def _leaky_relu(Z, out=None):
    # max(z, slope z): z for z > 0, slope z otherwise.
    return np.maximum(Z, Z * NEGATIVE_SLOPE, out=Z if out is None else out)


def _elu(Z, out=None):
    # alpha = 1: (e^{min(z, 0)} - 1) + max(z, 0).
    negative = np.minimum(Z, 0)
    np.expm1(negative, out=negative)
    out = np.maximum(Z, 0, out=Z if out is None else out)
    out += negative
    return out


def _softplus(Z, out=None):
    # log(1 + e^z), without overflow for any z.
    return np.logaddexp(0, Z, out=Z if out is None else out)


def _times_z(cdf):
    """``z cdf(z)``: GELU (``cdf`` the normal CDF) and SiLU (the logistic)."""

    def forward(Z, out=None):
        if out is None or out is Z:
            return np.multiply(Z, cdf(Z), out=Z)
        cdf(Z, out=out)
        out *= Z
        return out

    return forward


_gelu = _times_z(ndtr)
_silu = _times_z(expit)


def _softmax(Z):
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


def _exp(Z):
    # A Poisson model's mean; overflow to inf is reported by the loss, not here.
    with np.errstate(over="ignore"):
        return np.exp(Z, out=Z)


# -- first derivatives, in place ----------------------------------------------------
def _identity_derivative(A, Z, delta):
    return delta


def _logistic_derivative(A, Z, delta):
    # g' = a (1 - a); A becomes 1 - a.
    delta *= A
    np.subtract(1, A, out=A)
    delta *= A
    return delta


def _tanh_derivative(A, Z, delta):
    # g' = 1 - a^2; A becomes 1 - a^2.
    np.multiply(A, A, out=A)
    np.subtract(1, A, out=A)
    delta *= A
    return delta


def _relu_derivative(A, Z, delta):
    # g' = 1 where a > 0, else 0; A becomes that 0/1 indicator.  A comparison
    # is branch-free; np.sign branches on every element and is 5x slower on
    # ReLU outputs, whose zeros fall at random.
    np.greater(A, 0, out=A, casting="unsafe")
    delta *= A
    return delta


def _leaky_relu_derivative(A, Z, delta):
    # g' = 1 where a > 0, else the slope: max(indicator, slope), exactly.
    np.greater(A, 0, out=A, casting="unsafe")
    np.maximum(A, NEGATIVE_SLOPE, out=A)
    delta *= A
    return delta


def _elu_derivative(A, Z, delta):
    # g' = 1 for z > 0, e^z = a + 1 otherwise: min(a + 1, 1).
    A += 1
    np.minimum(A, 1, out=A)
    delta *= A
    return delta


def _softplus_derivative(A, Z, delta):
    # g' = logistic(z) = 1 - e^{-a}, as -expm1(-a): accurate for tiny a too.
    np.negative(A, out=A)
    np.expm1(A, out=A)
    delta *= A
    np.negative(delta, out=delta)
    return delta


def _gelu_derivative(A, Z, delta):
    # g' = Phi(z) + z phi(z); A becomes z phi(z), Z becomes g'.
    np.multiply(Z, Z, out=A)
    A *= -0.5
    np.exp(A, out=A)
    A *= Z
    A *= _INV_SQRT_2PI
    ndtr(Z, out=Z)
    Z += A
    delta *= Z
    return delta


def _silu_derivative(A, Z, delta):
    # g' = s + z s (1 - s) = s + a (1 - s), s = logistic(z); 1 - s is
    # logistic(-z), accurate where s is near 1.  A becomes g'.
    np.negative(Z, out=Z)
    expit(Z, out=Z)
    A *= Z
    np.subtract(1, Z, out=Z)
    A += Z
    delta *= A
    return delta


# -- first and second derivatives (the R-operator), new arrays ------------------------
def _identity_second(A, Z):
    return np.ones_like(A), np.zeros_like(A)


def _logistic_second(A, Z):
    d1 = A * (1 - A)
    return d1, d1 * (1 - 2 * A)


def _tanh_second(A, Z):
    d1 = 1 - A * A
    return d1, -2 * A * d1


def _relu_second(A, Z):
    return np.sign(A), np.zeros_like(A)


def _leaky_relu_second(A, Z):
    return np.where(A > 0, 1, NEGATIVE_SLOPE).astype(A.dtype), np.zeros_like(A)


def _elu_second(A, Z):
    e = A + 1  # e^z for z <= 0
    return np.minimum(e, 1), np.where(A > 0, 0, e).astype(A.dtype)


def _softplus_second(A, Z):
    e = np.exp(-A)  # 1 - logistic(z)
    d1 = -np.expm1(-A)
    return d1, d1 * e


def _gelu_second(A, Z):
    phi = np.exp(-0.5 * Z * Z) * _INV_SQRT_2PI
    return ndtr(Z) + Z * phi, phi * (2 - Z * Z)


def _silu_second(A, Z):
    s, r = expit(Z), expit(-Z)  # s and 1 - s
    return s + Z * s * r, s * r * (2 + Z * (r - s))


# Activation(forward, derivative, second, needs_z, monotone) per name.
HIDDEN_ACTIVATIONS = {
    "identity": Activation(
        _identity, _identity_derivative, _identity_second, False, True
    ),
    "logistic": Activation(
        _logistic, _logistic_derivative, _logistic_second, False, True
    ),
    "tanh": Activation(_tanh, _tanh_derivative, _tanh_second, False, True),
    "relu": Activation(_relu, _relu_derivative, _relu_second, False, True),
    "leaky_relu": Activation(
        _leaky_relu, _leaky_relu_derivative, _leaky_relu_second, False, True
    ),
    "softplus": Activation(
        _softplus, _softplus_derivative, _softplus_second, False, True
    ),
    "elu": Activation(_elu, _elu_derivative, _elu_second, False, True),
    "gelu": Activation(_gelu, _gelu_derivative, _gelu_second, True, False),
    "silu": Activation(_silu, _silu_derivative, _silu_second, True, False),
}

OUTPUT_ACTIVATIONS = {
    "identity": _identity,
    "logistic": _logistic,
    "softmax": _softmax,
    "exp": _exp,
}


def check_activations(activation, n_hidden, name="activation"):
    """One activation name per hidden layer, or a clear ``ValueError``.

    ``activation`` is a name (every hidden layer) or a sequence of
    ``n_hidden`` names (one per hidden layer, from the input side).
    """
    if isinstance(activation, str):
        names = (activation,) * n_hidden
        given = [activation]
    else:
        try:
            names = given = tuple(activation)
        except TypeError:
            raise ValueError(
                f"{name} must be a name or a sequence of names, got {activation!r}."
            ) from None
        if len(names) != n_hidden:
            raise ValueError(
                f"{name} has {len(names)} name(s) but the network has "
                f"{n_hidden} hidden layer(s): give one name per hidden layer, "
                f"or a single name for all of them."
            )
    for g in given:
        if not isinstance(g, str) or g not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"{name} must be one of {sorted(HIDDEN_ACTIVATIONS)} (or a "
                f"sequence of them, one per hidden layer), got {g!r}."
            )
    return names
