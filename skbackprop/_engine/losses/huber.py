"""The Huber loss: squared error near the target, absolute error beyond."""

import dataclasses
import numbers

import numpy as np

from skbackprop._engine.losses import Loss, huberized, register

# delta=None: this many robust scales of the targets (the 95% efficiency
# constant of Huber 1964 and scikit-learn's HuberRegressor, there in units
# of the residuals' scale).
EPSILON = 1.35


def check_width(value, name):
    """``value`` is None or a positive finite real number."""
    if value is None:
        return
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0 < value < np.inf
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")


@register
@dataclasses.dataclass(frozen=True, repr=False)
class HuberLoss(Loss):
    """Huber's loss of the residuals ``r = z - y``, identity output.

    ``r^2 / 2`` where ``|r| <= delta`` and ``delta (|r| - delta / 2)`` beyond
    (Huber 1964): squared error for small residuals, a linear penalty on
    large ones, so that gross outliers pull on the fit with a bounded force.
    The output signal is ``clip(r, -delta, delta)`` and the loss's Hessian
    in the logits is 1 inside the threshold, 0 beyond: positive
    semi-definite, so Newton-type solvers and Levenberg-Marquardt serve it.

    Parameters
    ----------
    delta : float or None, default=None
        The threshold, in the targets' units; None for ``1.35`` times their
        robust scale (1.4826 times their median absolute deviation),
        resolved when the estimator is fitted.
    """

    name = "huber"
    out_activation = "identity"
    scaled = True
    delta: float | None = None

    def __post_init__(self):
        check_width(self.delta, "HuberLoss's delta")

    def at_scale(self, scale):
        if self.delta is not None:
            return self
        return dataclasses.replace(self, delta=EPSILON * scale)

    def row_loss(self, Z, Y):
        h, _ = huberized(Z - Y, self.delta)
        return self.delta * h.sum(axis=1)

    def loss_signal(self, Z, Y):
        h, slope = huberized(Z - Y, self.delta)
        np.multiply(slope, self.delta, out=Z)
        return self.delta * h.sum(axis=1)

    def signal(self, A, Y):
        return np.clip(A - Y, -self.delta, self.delta)

    def hessp(self, A, Y, RZ):
        return RZ * (np.abs(A - Y) <= self.delta)
