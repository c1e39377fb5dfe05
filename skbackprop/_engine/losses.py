"""Output-layer losses, each paired with its canonical output activation.

Every pair has the output signal ``d(L) = A(L) - Y``: the derivative of the
loss with respect to the output pre-activations ``Z(L)``.

``LOSSES[name]`` is a :class:`Loss` with

* ``out_activation``: the key into :data:`OUTPUT_ACTIVATIONS`;
* ``row_loss(Z, Y)``: the loss of each row, computed from the logits ``Z``
  (never from clipped probabilities), so it is finite and free of overflow
  warnings for any finite ``Z``;
* ``output_jvp(A, RZ)``: the Jacobian of ``A(L)`` with respect to ``Z(L)`` times
  ``RZ`` (the output step of the R-operator; equal to the loss Hessian times
  ``RZ`` for these matched pairs);
* ``loss_signal(Z, Y)``: ``row_loss(Z, Y)`` and, in place of ``Z``, the output
  signal ``d(L) = A(L) - Y``, in one pass over the logits (the gradient's
  output step).
"""

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp, xlogy

from skbackprop._engine.activations import OUTPUT_ACTIVATIONS


def _row_dot(U, V):
    return np.einsum("ij,ij->i", U, V)


def _softmax_log_loss(Z, Y):
    # -sum_k y_k log softmax(z)_k = logsumexp(z) - y.z  (rows of Y sum to 1).
    return logsumexp(Z, axis=1) - _row_dot(Y, Z)


def _binary_log_loss(Z, Y):
    # -[y log s(z) + (1 - y) log(1 - s(z))] = log(1 + e^z) - y z, per output.
    return np.logaddexp(0, Z).sum(axis=1) - _row_dot(Y, Z)


def _squared_error(Z, Y):
    R = Z - Y
    return 0.5 * _row_dot(R, R)


def _poisson(Z, Y):
    # Half the Poisson deviance y log(y / a) - y + a, with a = exp(z).
    with np.errstate(over="ignore"):
        A = np.exp(Z)
    return (A - Y * Z).sum(axis=1) + (xlogy(Y, Y) - Y).sum(axis=1)


def _softmax_loss_signal(Z, Y):
    # With z' = z - max(z): loss = log sum exp(z') - y.z' (rows of Y sum to 1)
    # and softmax(z) = exp(z') / sum exp(z'); one max, one exp, one sum.
    Z -= Z.max(axis=1, keepdims=True)
    yz = _row_dot(Y, Z)
    np.exp(Z, out=Z)
    s = Z.sum(axis=1)
    Z /= s[:, None]
    Z -= Y
    row_loss = np.log(s, out=s)
    row_loss -= yz
    return row_loss


def _generic_loss_signal(name):
    def loss_signal(Z, Y):
        row_loss = LOSSES[name].row_loss(Z, Y)
        OUTPUT_ACTIVATIONS[LOSSES[name].out_activation](Z)
        Z -= Y
        return row_loss

    return loss_signal


def _softmax_jvp(A, RZ):
    return A * (RZ - _row_dot(A, RZ)[:, None])


def _logistic_jvp(A, RZ):
    return A * (1 - A) * RZ


def _identity_jvp(A, RZ):
    return RZ.copy()


def _exp_jvp(A, RZ):
    return A * RZ


class Loss(NamedTuple):
    """An output activation, the loss it is matched with, and their R-operator."""

    out_activation: str
    row_loss: object
    output_jvp: object
    loss_signal: object


LOSSES = {
    "log_loss": Loss("softmax", _softmax_log_loss, _softmax_jvp, _softmax_loss_signal),
    "binary_log_loss": Loss(
        "logistic",
        _binary_log_loss,
        _logistic_jvp,
        _generic_loss_signal("binary_log_loss"),
    ),
    "squared_error": Loss(
        "identity", _squared_error, _identity_jvp, _generic_loss_signal("squared_error")
    ),
    "poisson": Loss("exp", _poisson, _exp_jvp, _generic_loss_signal("poisson")),
}
