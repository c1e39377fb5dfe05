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
import inspect
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.optimize import OptimizeResult, OptimizeWarning, minimize

from skbackprop._training.bounds import scipy_bounds
from skbackprop._training.guard import (
    check_gradient,
    checked_hessp,
    kept_description,
    non_finite_x,
    penalty_overflows,
)
from skbackprop._training.precision import minimize_float32, restarts_apply
from skbackprop._training.progress import (
    Diverged,
    StopTraining,
    warn,
    warn_divergence,
)

# The arguments minimize passes to every method by name, which the bridge
# sets (or leaves at None): an option of the same name would reach the method
# twice.  (minimize turns its tol into an option itself.)
_RESERVED_OPTIONS = frozenset(inspect.signature(minimize).parameters) - {
    "method",
    "tol",
    "options",
}


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
        # SciPy's methods report the cost at x; a custom solver's report is
        # not trusted: the cost there is evaluated (or looked up).
        J = None
        if isinstance(intermediate_result, OptimizeResult):
            theta = intermediate_result.get("x")
            if not callable(method):
                J = intermediate_result.fun
        else:  # TNC passes only x; it is almost always the last evaluation.
            theta = intermediate_result
        if np.shape(theta) != np.shape(theta0):
            raise TypeError(
                "The solver called the callback without the parameters x "
                f"of shape {np.shape(theta0)}, got {type(theta).__name__} of "
                f"shape {np.shape(theta)}."
            )
        if J is None:
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

    reserved = sorted(_RESERVED_OPTIONS.intersection(options))
    if reserved:
        raise ValueError(
            f"solver_options may not set {reserved}: skbackprop passes "
            "these arguments of scipy.optimize.minimize itself. Use the "
            "estimator's callback parameter for a callback; bounds and "
            "constraints on the weights are not supported."
        )
    if callable(method):
        method = _checked_custom(method, np.size(theta0))
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
        # Far from a minimum SciPy's own arithmetic on huge costs overflows
        # too; the run's outcome says so (divergence, non-convergence).
        with warnings.catch_warnings(), np.errstate(all="ignore"):
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
    except ValueError as exc:
        # SciPy's linear algebra refuses what overflowed inside the method
        # itself: the run diverged, like any other non-finite number.
        if "must not contain infs or NaNs" not in str(exc):
            raise
        raise Diverged(np.nan, "SciPy's internal arithmetic became non-finite") from exc
    return result.x, result, None


def _raised_in_library(exc):
    """Whether ``exc`` was raised inside SciPy or NumPy, not in user code."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = Path(tb.tb_frame.f_code.co_filename).parts
    return "scipy" in path or "numpy" in path


def _checked_custom(solver, n_params):
    """A custom minimizer whose result is checked to hold parameters ``x``."""

    def custom(fun, x0, **kwargs):
        result = solver(fun, x0, **kwargs)
        x = result.get("x") if isinstance(result, dict) else None
        if x is None:
            raise TypeError(
                f"The custom solver {getattr(solver, '__name__', solver)!r} must "
                "return a scipy.optimize.OptimizeResult holding the parameters "
                f"x, got {type(result).__name__}."
            )
        if np.shape(x) != (n_params,) or np.asarray(x).dtype.kind not in "biuf":
            raise ValueError(
                f"The custom solver returned x of shape {np.shape(x)} and dtype "
                f"{np.asarray(x).dtype}, expected {n_params} real parameters."
            )
        return result if isinstance(result, OptimizeResult) else OptimizeResult(result)

    return custom


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
    uses_jac = callable(method) or SCIPY_METHODS[method].uses_jac
    last = {"theta": None, "J": None}

    def cost_grad(t):
        J, D = objective.cost_grad(t)
        last["theta"], last["J"] = np.array(t, copy=True), J
        if uses_jac:
            check_gradient(J, D, t)
        return J, D

    def cost_at(t):
        """The cost at ``t``, without a pass over the data if just evaluated."""
        if last["theta"] is not None and np.array_equal(t, last["theta"]):
            return last["J"]
        return objective.cost_grad(t)[0]

    hessp = None
    if uses_hessp(method):

        def products(t, v):
            return np.asarray(objective.hessp(t, v, settings.curvature), np.float64)

        hessp = checked_hessp(products)

    # TNC has no iteration limit of its own: stop it at max_iter ourselves.
    cap = settings.max_iter if "maxiter" not in options else None
    diverged = None
    try:
        if restarts_apply(method, objective.net.dtype, settings.solver_options):
            theta_end, result, stopped = minimize_float32(
                functools.partial(minimize_scipy, bounds=settings.bounds),
                cost_grad,
                theta,
                options,
                progress,
            )
        else:
            theta_end, result, stopped = minimize_scipy(
                method,
                cost_grad,
                theta,
                options,
                progress,
                hessp=hessp,
                max_iter=cap,
                bounds=settings.bounds,
            )
    except Diverged as exc:
        theta_end, result, stopped = None, None, "diverged"
        diverged, at = exc, progress.n_iter + 1
    except Exception as exc:
        # SciPy checks few options: a bad value fails deep inside the method.
        if not settings.solver_options or not _raised_in_library(exc):
            raise
        name = method if isinstance(method, str) else "The custom solver"
        raise ValueError(
            f"{name} failed with solver_options={settings.solver_options!r}: "
            f"{type(exc).__name__}: {exc}. Check the options against the "
            "method's documentation in scipy.optimize.minimize."
        ) from exc
    if stopped == "interrupt":
        warn("Training interrupted by user.")

    # n_iter_ counts the iterations the callback saw, one loss_curve_ entry
    # each (SciPy's nit counts Nelder-Mead's first simplex, COBYQA calls the
    # callback at every evaluation, a custom solver reports what it likes),
    # and loss_ is the cost at the parameters kept, never the solver's fun.
    if result is not None and diverged is None:
        diverged, at = non_finite_x(result.x), progress.n_iter
        if diverged is not None:
            theta_end = None
    fallback = theta if progress.last_theta is None else progress.last_theta
    if theta_end is None:  # fall back to the last accepted finite iterate
        theta_end = fallback
    loss = cost_at(theta_end)
    if diverged is None and not np.isfinite(loss):
        diverged, at = Diverged(loss, theta=theta_end), progress.n_iter
        theta_end = fallback
        loss = cost_at(theta_end)
    if diverged is not None:
        where = diverged.theta if diverged.theta is not None else theta_end
        warn_divergence(
            settings,
            diverged.args[0],
            at,
            loss,
            what=diverged.args[1],
            kept=kept_description(progress),
            penalty=penalty_overflows(objective, where),
        )
    elif result is not None and not result.get("success", True):
        name = method if isinstance(method, str) else "The solver"
        warn(
            f"{name} did not converge after {progress.n_iter} iteration(s): "
            f"{result.get('message', '')} Increase max_iter or scale the data."
        )
    return theta_end, result, loss
