"""The SciPy bridge: :func:`scipy.optimize.minimize` with the batch gradient.

* :data:`SCIPY_METHODS` says, for each method of :func:`~scipy.optimize.minimize`
  this package accepts, whether it uses the gradient ``D`` and curvature
  products, and how ``max_iter``/``tol``/``max_fun`` map onto its options.
* :func:`minimize_scipy` is the one place that calls SciPy.
* :func:`run_scipy` is the training loop of every SciPy method: it turns
  SciPy's outcome (success, failure, divergence, interruption) into the
  parameters to keep and the warnings to give.
"""

import functools
import warnings
from typing import NamedTuple

import numpy as np
from scipy.optimize import OptimizeResult, OptimizeWarning, minimize

from skbackprop._training.bounds import scipy_bounds
from skbackprop._training.precision import minimize_float32, restarts_apply
from skbackprop._training.progress import (
    Diverged,
    StopTraining,
    warn,
    warn_divergence,
)


class _IterationLimit(Exception):
    """Raised from the callback when a method without ``maxiter`` used up max_iter."""


class ScipyMethod(NamedTuple):
    """How the package drives one method of :func:`scipy.optimize.minimize`.

    ``maxiter``, ``tol`` and ``maxfun`` name the method's options that
    receive ``max_iter``, ``tol`` and ``max_fun`` (None: it has none).
    """

    uses_jac: bool
    uses_hessp: bool
    maxiter: str | None = None
    tol: str | None = None
    maxfun: str | None = None

    def options(self, max_iter, tol, max_fun):
        names = (self.maxiter, self.tol, self.maxfun)
        return {
            name: value
            for name, value in zip(names, (max_iter, tol, max_fun), strict=True)
            if name
        }


# Keys are SciPy's names, matched case-insensitively.
SCIPY_METHODS = {
    "L-BFGS-B": ScipyMethod(True, False, "maxiter", "gtol", "maxfun"),
    "CG": ScipyMethod(True, False, "maxiter", "gtol"),
    "BFGS": ScipyMethod(True, False, "maxiter", "gtol"),
    "TNC": ScipyMethod(True, False, None, "gtol", "maxfun"),
    "SLSQP": ScipyMethod(True, False, "maxiter", "ftol"),
    "Newton-CG": ScipyMethod(True, True, "maxiter", "xtol"),
    "trust-ncg": ScipyMethod(True, True, "maxiter", "gtol"),
    "trust-krylov": ScipyMethod(True, True, "maxiter", "gtol"),
    "trust-constr": ScipyMethod(True, True, "maxiter", "gtol"),
    # Derivative-free methods: accepted for completeness, practical only for
    # tiny networks.
    "Nelder-Mead": ScipyMethod(False, False, "maxiter", "fatol"),
    "Powell": ScipyMethod(False, False, "maxiter", "ftol"),
    "COBYLA": ScipyMethod(False, False, "maxiter", "tol"),
    "COBYQA": ScipyMethod(False, False, "maxiter"),
}

# TNC counts function evaluations, not iterations: give it a budget in
# evaluations that allows max_iter iterations of a few evaluations each.
_TNC_EVALS_PER_ITER = 10

_CANONICAL = {name.lower(): name for name in SCIPY_METHODS}


def canonical_method(solver):
    """SciPy's spelling of a method name, or None if it is not a SciPy method."""
    if not isinstance(solver, str):
        return None
    return _CANONICAL.get(solver.lower())


def uses_hessp(method):
    """Whether ``method`` (a name or a custom callable) takes ``hessp``."""
    return callable(method) or SCIPY_METHODS[method].uses_hessp


def scipy_options(method, max_iter, tol, max_fun, solver_options):
    """Options for ``method`` from the estimator's settings and ``solver_options``."""
    if method == "TNC":
        max_fun = min(max_fun, _TNC_EVALS_PER_ITER * max_iter)
    options = SCIPY_METHODS[method].options(max_iter, tol, max_fun)
    options.update(solver_options or {})
    return options


def minimize_scipy(
    method, fun, theta0, options, on_iteration, hessp=None, max_iter=None, bounds=None
):
    """Minimize ``fun`` (returning ``(J, D)``) with a SciPy method.

    ``method`` is a canonical name from :data:`SCIPY_METHODS` or a callable
    minimizer in SciPy's custom-method protocol.  ``on_iteration(theta, J)``
    is called after each iteration and may raise :class:`StopTraining`.
    ``max_iter``, for methods without an iteration limit of their own (TNC),
    ends the minimization after that many iterations with an unsuccessful
    result, as SciPy's own limits do.  ``bounds``, None or ``(lower,
    upper)``, go to the method as :class:`~scipy.optimize.Bounds`.

    Returns ``(theta, result, stopped)``: the final parameters, SciPy's
    :class:`~scipy.optimize.OptimizeResult` (None when the fit was stopped
    before SciPy returned), and the reason it was stopped early
    (None, ``"callback"`` or ``"interrupt"``).
    """
    last = {"theta": None, "J": None, "accepted": theta0, "nit": 0}
    uses_jac = True if callable(method) else SCIPY_METHODS[method].uses_jac

    def fun_jac(theta):
        J, D = fun(theta)
        last["theta"], last["J"] = theta.copy(), J
        # SciPy keeps references to returned gradients: return a fresh array.
        return J, np.array(D, dtype=np.float64)

    def fun_only(theta):
        return fun_jac(theta)[0]

    def callback(intermediate_result):
        if isinstance(intermediate_result, OptimizeResult):
            theta, J = intermediate_result.x, intermediate_result.fun
        else:  # TNC passes only x; it is almost always the last evaluation.
            theta = intermediate_result
            if last["theta"] is not None and np.array_equal(theta, last["theta"]):
                J = last["J"]
            else:
                J = fun(theta)[0]
        last["accepted"] = np.array(theta, copy=True)
        last["nit"] += 1
        last["fun"] = float(J)
        on_iteration(last["accepted"], last["fun"])
        if max_iter is not None and last["nit"] >= max_iter:
            raise _IterationLimit

    kwargs = {"method": method, "options": options, "callback": callback}
    if uses_jac:
        kwargs["jac"] = True
        objective = fun_jac
    else:
        objective = fun_only
    if hessp is not None:
        kwargs["hessp"] = hessp
    if bounds is not None:
        kwargs["bounds"] = scipy_bounds(bounds)
    x0 = np.asarray(theta0, dtype=np.float64)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "error", message="Unknown solver options", category=OptimizeWarning
            )
            result = minimize(objective, x0, **kwargs)
    except OptimizeWarning as exc:
        raise ValueError(
            f"solver_options {sorted(options)} are not all accepted by SciPy's "
            f"{method!r}: {exc}"
        ) from None
    except StopTraining:
        return last["accepted"], None, "callback"
    except _IterationLimit:
        result = OptimizeResult(
            x=last["accepted"],
            fun=last["fun"],
            nit=last["nit"],
            success=False,
            status=1,
            message="Maximum number of iterations has been exceeded.",
        )
    except KeyboardInterrupt:
        return last["accepted"], None, "interrupt"
    return result.x, result, None


def run_scipy(objective, theta, progress, settings):
    """Minimize ``objective`` from ``theta`` with a SciPy method.

    Returns ``(theta, optimize_result, loss)``: the parameters to keep,
    SciPy's result (None when stopped before SciPy returned) and the cost
    at the kept parameters.
    """
    method = settings.solver
    if isinstance(method, str):
        options = scipy_options(
            method,
            settings.max_iter,
            settings.tol,
            settings.max_fun,
            settings.solver_options,
        )
    else:
        options = {"maxiter": settings.max_iter, **(settings.solver_options or {})}
    hessp = None
    if uses_hessp(method):

        def hessp(t, v):
            return np.asarray(objective.hessp(t, v, settings.curvature), np.float64)

    # TNC has no iteration limit of its own: stop it at max_iter ourselves.
    cap = settings.max_iter if "maxiter" not in options else None
    diverged = None
    try:
        if restarts_apply(method, objective.net.dtype, settings.solver_options):
            theta_end, result, stopped = minimize_float32(
                functools.partial(minimize_scipy, bounds=settings.bounds),
                objective.cost_grad,
                theta,
                options,
                progress,
            )
        else:
            theta_end, result, stopped = minimize_scipy(
                method,
                objective.cost_grad,
                theta,
                options,
                progress,
                hessp=hessp,
                max_iter=cap,
                bounds=settings.bounds,
            )
    except Diverged as exc:
        theta_end, result, stopped = None, None, "diverged"
        diverged = (exc.args[0], progress.n_iter + 1)
    if stopped == "interrupt":
        warn("Training interrupted by user.")

    if result is not None:
        if result.get("nit") is not None:
            progress.n_iter = int(result.nit)
        if not np.isfinite(result.fun) or not np.isfinite(result.x).all():
            diverged = (result.fun, progress.n_iter)
            theta_end = None
        elif not result.success:
            name = method if isinstance(method, str) else "The solver"
            warn(
                f"{name} did not converge after {progress.n_iter} iteration(s): "
                f"{result.message} Increase max_iter or scale the data."
            )
    if theta_end is None:  # fall back to the last accepted finite iterate
        theta_end = theta if progress.last_theta is None else progress.last_theta
    elif result is not None and theta_end is result.x:
        return theta_end, result, result.fun
    loss = objective.cost_grad(theta_end)[0]
    if diverged is not None:
        warn_divergence(settings, *diverged, loss)
    return theta_end, result, loss
