"""The losses matched with their canonical output activation (canonical links).

Squared error with the identity, binary log-loss with the logistic,
log-loss with the softmax and the Poisson half deviance with the exponential:
for each pair the output signal is ``d(L) = A(L) - Y``, and the loss's
Hessian in the logits is the Jacobian of ``A(L)`` in ``Z(L)`` (``I``,
``p(1 - p)``, ``diag(p) - p p'``, ``exp(z)``), so :meth:`Loss.hessp` needs
no targets.
"""

import dataclasses

import numpy as np
from scipy.special import gammaln, logsumexp, xlogy

from skbackprop._engine.activations import OUTPUT_ACTIVATIONS
from skbackprop._engine.losses import Loss, register


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


def _softmax_jvp(A, RZ):
    return A * (RZ - _row_dot(A, RZ)[:, None])


def _logistic_jvp(A, RZ):
    return A * (1 - A) * RZ


def _identity_jvp(A, RZ):
    return RZ.copy()


def _exp_jvp(A, RZ):
    return A * RZ


def _check_probabilities(Y, name):
    """The encoded targets of a log-loss: indicators or probabilities."""
    Y = np.asarray(Y)
    if Y.size and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(
            f"Y must hold 0/1 indicators (or probabilities) for loss={name!r}, "
            f"got values in [{Y.min():g}, {Y.max():g}]."
        )
    return Y


class _Matched(Loss):
    """A loss whose output signal is ``A(L) - Y``."""

    def loss_signal(self, Z, Y):
        row_loss = self.row_loss(Z, Y)
        OUTPUT_ACTIVATIONS[self.out_activation](Z)
        Z -= Y
        return row_loss

    def signal(self, A, Y):
        return A - Y


@register
@dataclasses.dataclass(frozen=True, repr=False)
class HalfSquaredError(_Matched):
    """``1/2 ||z - y||^2``, identity output: least squares, Gaussian noise."""

    name = "squared_error"
    out_activation = "identity"
    unit_hessian = True
    likelihood = "gaussian"

    def row_loss(self, Z, Y):
        return _squared_error(Z, Y)

    def hessp(self, A, Y, RZ):
        return _identity_jvp(A, RZ)


@register
@dataclasses.dataclass(frozen=True, repr=False)
class HalfPoissonLoss(_Matched):
    """Half the Poisson deviance, exponential output (log link)."""

    name = "poisson"
    out_activation = "exp"
    likelihood = "poisson"

    def row_loss(self, Z, Y):
        return _poisson(Z, Y)

    def hessp(self, A, Y, RZ):
        return _exp_jvp(A, RZ)

    def check_targets(self, y):
        if np.any(np.asarray(y) < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "loss='poisson'."
            )

    def log_likelihood_constant(self, Y, sample_weight):
        # The negative log-likelihood minus the half deviance, row by row:
        # log y! + y - y log y.
        Y = np.asarray(Y, np.float64)
        terms = (gammaln(Y + 1) + Y - xlogy(Y, Y)).sum(axis=1)
        return float(
            terms.sum() if sample_weight is None else np.dot(sample_weight, terms)
        )


@register
@dataclasses.dataclass(frozen=True, repr=False)
class HalfBinomialLoss(_Matched):
    """Binary log-loss per output, logistic output (binary, multilabel)."""

    name = "binary_log_loss"
    out_activation = "logistic"
    task = "classification"
    likelihood = "bernoulli"

    def row_loss(self, Z, Y):
        return _binary_log_loss(Z, Y)

    def check_targets(self, y):
        _check_probabilities(y, self.name)

    def hessp(self, A, Y, RZ):
        return _logistic_jvp(A, RZ)


@register
@dataclasses.dataclass(frozen=True, repr=False)
class HalfMultinomialLoss(_Matched):
    """Log-loss of one-hot rows, softmax output (multiclass)."""

    name = "log_loss"
    out_activation = "softmax"
    task = "classification"
    likelihood = "categorical"

    def row_loss(self, Z, Y):
        return _softmax_log_loss(Z, Y)

    def check_targets(self, y):
        Y = _check_probabilities(y, self.name)
        if Y.size:
            # The output signal A - Y is the gradient only for rows summing
            # to 1.  (einsum: Y.sum(axis=1) is several times slower on few
            # columns.)
            sums = np.einsum("ij->i", Y)
            worst = sums[np.argmax(np.abs(sums - 1))]
            if abs(worst - 1) > np.sqrt(np.finfo(Y.dtype).eps):
                raise ValueError(
                    "Y must hold one-hot rows (or probabilities summing to 1) "
                    f"for loss='log_loss'; a row sums to {worst:g}."
                )

    def loss_signal(self, Z, Y):
        return _softmax_loss_signal(Z, Y)

    def hessp(self, A, Y, RZ):
        return _softmax_jvp(A, RZ)


# The loss of each output activation, for fitted models saved before losses
# were recorded: prediction needs only the activation.
BY_OUTPUT = {
    cls.out_activation: cls
    for cls in (
        HalfSquaredError,
        HalfPoissonLoss,
        HalfBinomialLoss,
        HalfMultinomialLoss,
    )
}
