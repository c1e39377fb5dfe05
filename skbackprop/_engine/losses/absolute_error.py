"""The absolute error, its kink at zero rounded off."""

import dataclasses

import numpy as np

from skbackprop._engine.losses import Loss, huberized, register
from skbackprop._engine.losses.huber import check_width

# delta=None: the rounding's width in robust scales of the targets.
SMOOTHING = 1e-2


@register
@dataclasses.dataclass(frozen=True, repr=False)
class AbsoluteError(Loss):
    """``|r|`` of the residuals ``r = z - y``, smoothed, identity output.

    The exact absolute error has no derivative at ``r = 0``, where a fitted
    model's residuals gather, and quasi-Newton solvers stall on its kink.
    Its kink is rounded off over ``|r| <= delta``: ``r^2 / (2 delta)`` there
    and ``|r| - delta / 2`` beyond, at most ``delta / 2`` below ``|r|`` per
    row, with the signal ``clip(r / delta, -1, 1)``.  Its median regression
    is robust to outlying targets.  Its Hessian is zero almost everywhere
    (``1 / delta`` on the rounded sliver): no curvature for Newton-type
    solvers, Levenberg-Marquardt or the evidence.

    Parameters
    ----------
    delta : float or None, default=None
        The rounding's width, in the targets' units; None for ``1e-2``
        times their robust scale (1.4826 times their median absolute
        deviation), resolved when the estimator is fitted.
    """

    name = "absolute_error"
    out_activation = "identity"
    curvature = False
    scaled = True
    delta: float | None = None

    def __post_init__(self):
        check_width(self.delta, "AbsoluteError's delta")

    def at_scale(self, scale):
        if self.delta is not None:
            return self
        return dataclasses.replace(self, delta=SMOOTHING * scale)

    def row_loss(self, Z, Y):
        return huberized(Z - Y, self.delta)[0].sum(axis=1)

    def loss_signal(self, Z, Y):
        h, slope = huberized(Z - Y, self.delta)
        np.copyto(Z, slope)
        return h.sum(axis=1)

    def signal(self, A, Y):
        return np.clip((A - Y) / self.delta, -1.0, 1.0)
