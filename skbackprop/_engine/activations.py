"""Activation functions g and their derivatives, as in-place array functions.

Three tables, keyed by the names the estimators accept:

* ``HIDDEN_ACTIVATIONS[name](Z)`` turns the pre-activations ``Z`` of a hidden
  layer into its activations ``A = g(Z)`` in place.
* ``HIDDEN_DERIVATIVES[name](A, delta)`` multiplies the signal ``delta`` in
  place by ``g'(Z)``, computed from the layer's *output* ``A`` (the hidden
  signal ``d(l) = (d(l+1) W(l+1)') .* g'(Z(l))``).  ``A`` may be overwritten: the
  backward pass calls it after ``A`` was last needed.
* ``HIDDEN_SECOND_DERIVATIVES[name](A)`` returns ``(g'(Z), g''(Z))`` from ``A``,
  for the Hessian-vector products of the R-operator.
* ``OUTPUT_ACTIVATIONS[name](Z)`` turns the output layer's ``Z`` into ``A(L)``
  in place.

Adding an activation is one function in each table.
"""

import numpy as np
from scipy.special import expit


def _identity(Z):
    return Z


def _logistic(Z):
    # expit is evaluated without overflow for any |z|.
    return expit(Z, out=Z)


def _tanh(Z):
    return np.tanh(Z, out=Z)


def _relu(Z):
    # Against a row of zeros, not the scalar 0: numpy's contiguous loop is
    # 1.4x (float64) to 2.5x (float32) faster than its scalar one here.
    return np.maximum(Z, np.zeros(Z.shape[-1:], Z.dtype), out=Z)


def _softmax(Z):
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


def _exp(Z):
    # A Poisson model's mean; overflow to inf is reported by the loss, not here.
    with np.errstate(over="ignore"):
        return np.exp(Z, out=Z)


def _identity_derivative(A, delta):
    return delta


def _logistic_derivative(A, delta):
    # g' = a (1 - a); A becomes 1 - a.
    delta *= A
    np.subtract(1, A, out=A)
    delta *= A
    return delta


def _tanh_derivative(A, delta):
    # g' = 1 - a^2; A becomes 1 - a^2.
    np.multiply(A, A, out=A)
    np.subtract(1, A, out=A)
    delta *= A
    return delta


def _relu_derivative(A, delta):
    # g' = 1 where a > 0, else 0; A becomes that 0/1 indicator.  A comparison
    # is branch-free; np.sign branches on every element and is 5x slower on
    # ReLU outputs, whose zeros fall at random.
    np.greater(A, 0, out=A, casting="unsafe")
    delta *= A
    return delta


def _identity_second(A):
    return np.ones_like(A), np.zeros_like(A)


def _logistic_second(A):
    d1 = A * (1 - A)
    return d1, d1 * (1 - 2 * A)


def _tanh_second(A):
    d1 = 1 - A * A
    return d1, -2 * A * d1


def _relu_second(A):
    return np.sign(A), np.zeros_like(A)


HIDDEN_ACTIVATIONS = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": _relu,
}

HIDDEN_DERIVATIVES = {
    "identity": _identity_derivative,
    "logistic": _logistic_derivative,
    "tanh": _tanh_derivative,
    "relu": _relu_derivative,
}

HIDDEN_SECOND_DERIVATIVES = {
    "identity": _identity_second,
    "logistic": _logistic_second,
    "tanh": _tanh_second,
    "relu": _relu_second,
}

OUTPUT_ACTIVATIONS = {
    "identity": _identity,
    "logistic": _logistic,
    "softmax": _softmax,
    "exp": _exp,
}
