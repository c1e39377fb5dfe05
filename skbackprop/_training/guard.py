"""Guards that end a fit when its numbers stop meaning anything.

A loss that is non-finite at an accepted iterate ends a fit
(:class:`~skbackprop._training.progress.Progress` raises
:class:`~skbackprop._training.progress.Diverged`).  So must a gradient ``D``
or a curvature product ``H v`` that overflows while the loss is still
finite: no solver can use them.  SciPy's solvers then fail with "array must
not contain infs or NaNs", or never stop: with ``v' H v = inf``,
trust-ncg's conjugate gradients compute a zero step length and grow the
direction for ever.  A loss that overflows at a line search's trial point
is left to the solver, which steps back from it.

The helpers here also say, for the warning, whether the L2 penalty rather
than the network's outputs overflowed, and which parameters early stopping
kept.
"""

import numpy as np

from skbackprop._engine.network import penalized, penalty
from skbackprop._training.progress import Diverged

GRADIENT = "The gradient became non-finite"
CURVATURE = "A curvature product H v became non-finite"
SOLVER_X = "The solver returned non-finite parameters"


def _all_finite(a):
    # One sum tells whether all of a is finite (an inf or nan in it makes
    # the sum inf or nan) without a boolean array; only a sum that overflows
    # from finite terms needs the elementwise check.
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(a.sum()) or np.isfinite(a).all())


def check_finite_gradient(J, D, theta):
    """Raise :class:`Diverged` when ``D`` is non-finite at a finite ``J``."""
    if np.isfinite(J) and not _all_finite(D):
        raise Diverged(_first_non_finite(D), GRADIENT, theta)


def checked_hessp(hessp):
    """``hessp(theta, v)`` that raises :class:`Diverged` on a non-finite
    ``H v`` or curvature ``v' H v`` (whose overflow is what stalls
    trust-ncg)."""

    def guarded(theta, v):
        Hv = hessp(theta, v)
        with np.errstate(over="ignore", invalid="ignore"):
            curvature = np.einsum("i,i->", v, Hv)
        if not (np.isfinite(curvature) and _all_finite(Hv)):
            value = curvature if _all_finite(Hv) else _first_non_finite(Hv)
            raise Diverged(value, CURVATURE, theta)
        return Hv

    return guarded


def non_finite_x(x):
    """:class:`Diverged` for parameters a solver returned, or None if finite."""
    x = np.asarray(x)
    if x.dtype.kind in "fc" and _all_finite(x):
        return None
    return Diverged(_first_non_finite(x), SOLVER_X)


def _first_non_finite(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    bad = a[~np.isfinite(a)]
    return float(bad[0]) if bad.size else float(a.sum())


def penalty_overflows(objective, theta):
    """Whether ``alpha/2 ||W||^2`` overflows at ``theta`` although ``||W||^2``
    does not: the L2 penalty, not the data, made the loss non-finite."""
    if theta is None or not penalized(objective.alpha):
        return False
    net = objective.net
    W = net.as_theta(theta)[: net.n_coefs]
    with np.errstate(over="ignore", invalid="ignore"):
        squares = float(np.einsum("i,i->", W, W))
        total = penalty(objective.alpha, W)
        return bool(np.isfinite(squares) and not np.isfinite(total))


def kept_description(progress):
    """Which parameters early stopping keeps, for the divergence warning; None
    when the fit keeps its last finite iterate."""
    scores = progress.validation_scores
    if progress.score is None or progress.best_theta is None or not scores:
        return None
    best = int(np.argmax(scores))
    iteration = progress.n_iter - len(scores) + best + 1
    return (
        f"the parameters with the best validation score ({scores[best]:.6g}, "
        f"iteration {iteration})"
    )
