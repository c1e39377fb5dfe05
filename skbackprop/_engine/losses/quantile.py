"""The pinball loss of quantile regression, its kink rounded off."""

import dataclasses
import numbers

import numpy as np

from skbackprop._engine.losses import Loss, huberized, register
from skbackprop._engine.losses.absolute_error import SMOOTHING
from skbackprop._engine.losses.huber import check_width


@register
@dataclasses.dataclass(frozen=True, repr=False)
class PinballLoss(Loss):
    """The pinball loss of the ``quantile``-th quantile, smoothed, identity output.

    With residuals ``r = z - y``: ``q |r|`` where the model predicts below
    the target (``r <= 0``) and ``(1 - q) |r|`` above it (Koenker & Bassett
    1978), whose minimizer over ``z`` is the ``q``-th quantile of ``y``.  Its
    kink is rounded off as :class:`AbsoluteError`'s: ``|r|`` becomes
    ``r^2 / (2 delta)`` over ``|r| <= delta`` (at most ``delta / 2`` less
    per row, times the side's weight), with the signal ``w(r) clip(r /
    delta, -1, 1)``.  No curvature (zero almost everywhere).

    Parameters
    ----------
    quantile : float, default=0.5
        The quantile ``q`` in (0, 1) to predict.
    delta : float or None, default=None
        The rounding's width, in the targets' units; None for ``1e-2``
        times their robust scale, resolved when the estimator is fitted.
    """

    name = "quantile"
    out_activation = "identity"
    curvature = False
    scaled = True
    quantile: float = 0.5
    delta: float | None = None

    def __post_init__(self):
        q = self.quantile
        if not isinstance(q, numbers.Real) or isinstance(q, bool) or not 0 < q < 1:
            raise ValueError(f"quantile must be a number in (0, 1), got {q!r}.")
        check_width(self.delta, "PinballLoss's delta")

    def at_scale(self, scale):
        if self.delta is not None:
            return self
        return dataclasses.replace(self, delta=SMOOTHING * scale)

    def _weights(self, R):
        return np.where(R > 0, 1.0 - self.quantile, self.quantile).astype(R.dtype)

    def row_loss(self, Z, Y):
        R = Z - Y
        h, _ = huberized(R, self.delta)
        return (self._weights(R) * h).sum(axis=1)

    def loss_signal(self, Z, Y):
        R = Z - Y
        h, slope = huberized(R, self.delta)
        w = self._weights(R)
        np.multiply(w, slope, out=Z)
        return (w * h).sum(axis=1)

    def signal(self, A, Y):
        R = A - Y
        return self._weights(R) * np.clip(R / self.delta, -1.0, 1.0)
