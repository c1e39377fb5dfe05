"""Box constraints on the parameters, for the solvers that honour them.

``Settings.bounds`` is None or ``(lower, upper)``, float64 arrays of one
bound per parameter (``-inf``/``inf`` where free), e.g. from
:func:`~skbackprop._engine.monotone.monotone_bounds`.  SciPy's bounded
methods receive them as :class:`scipy.optimize.Bounds`; gradient descent
and Rprop project every step onto them.  The solvers that honour them say
so (``Solver.bounds``).
"""

import numpy as np
from scipy.optimize import Bounds


def scipy_bounds(bounds):
    """``bounds`` as :class:`~scipy.optimize.Bounds`; ``keep_feasible`` makes
    trust-constr's interior-point method keep its iterates inside them."""
    lower, upper = bounds
    return Bounds(lower, upper, keep_feasible=True)


def project(theta, bounds):
    """Clip ``theta`` in place onto ``bounds``; return whether it moved."""
    lower, upper = bounds
    outside = (theta < lower) | (theta > upper)
    if not outside.any():
        return False
    np.clip(theta, lower, upper, out=theta)
    return True
