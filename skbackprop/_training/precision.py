"""Stopping rules per dtype: L-BFGS-B on a float32 cost.

SciPy's L-BFGS-B also stops when one iteration lowers the cost by less than
``ftol`` (about 2.2e-9) relative to ``max(|J|, 1)``.  On a float32 cost, whose
values carry rounding errors many times that size, the line search can
accept a step that lowers ``J`` by nothing measurable: the run then ends
with "RELATIVE REDUCTION OF F <= FACTR*EPSMCH" and reports success far from
a minimum, ``max |D|`` still above ``gtol``.  The curvature pairs L-BFGS
has gathered, not the gradient, are at fault there: a restart from the
same point with an empty memory descends again.  :func:`minimize_float32`
restarts while the gradient test is unmet, the restarts lower the cost
and the iteration and evaluation budgets last; when a restart gains
nothing, the result says so (``success=False``), so that the fit warns.
"""

import numpy as np


def restarts_apply(method, dtype, solver_options):
    """Whether :func:`minimize_float32` replaces one L-BFGS-B run.

    Only for float32 costs, and not when the user chose ``ftol``.
    """
    return (
        method == "L-BFGS-B"
        and np.dtype(dtype) == np.float32
        and "ftol" not in (solver_options or {})
    )


def projected_gradient(x, D, bounds):
    """L-BFGS-B's projected gradient ``P(x - D) - x`` (``-D`` without
    bounds), whose largest entry its gradient test compares with ``gtol``."""
    if bounds is None:
        return -D
    lower, upper = bounds
    return np.clip(x - D, lower, upper) - x


def minimize_float32(minimize, fun, theta0, options, on_iteration, bounds=None):
    """L-BFGS-B by ``minimize`` (``minimize_scipy``), restarted as the module says.

    Takes what ``minimize_scipy`` does for ``"L-BFGS-B"`` and returns its
    result; the result's ``nit``, ``nfev`` and ``njev`` count all the runs.
    A run that ended with status 0 and the gradient test unmet stopped on
    the relative reduction of the cost.
    """
    gtol = options.get("gtol", 1e-5)
    max_iter = options.get("maxiter", 15000)
    max_fun = options.get("maxfun", 15000)
    counts = {"nit": 0, "nfev": 0, "njev": 0}
    theta, J_before = theta0, np.inf
    while True:
        budget = {
            "maxiter": max_iter - counts["nit"],
            "maxfun": max_fun - counts["nfev"],
        }
        result = minimize("L-BFGS-B", fun, theta, {**options, **budget}, on_iteration)
        theta = result.x
        for key in counts:
            counts[key] += int(result.get(key, 0))
        pg = np.max(np.abs(projected_gradient(result.x, result.jac, bounds)))
        stalled = result.status == 0 and pg > gtol
        if not stalled:
            break
        if not result.fun < J_before:
            result.success = False
            result.message = (
                f"{result.message}: the float32 cost stopped decreasing with "
                f"max|D| = {pg:.3g} > tol = {gtol:g}, "
                "at float32's rounding. Fit float64 data for more accuracy."
            )
            break
        if counts["nit"] >= max_iter or counts["nfev"] >= max_fun:
            break
        J_before = result.fun
    result.update(counts)
    return result
