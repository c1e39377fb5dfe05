"""SciPy's :func:`scipy.optimize.minimize` on the batch gradient, one solver a method.

* :class:`ScipyMethod` is one method of :func:`~scipy.optimize.minimize`:
  whether it uses the gradient ``D`` and curvature products, honours
  bounds, and how ``max_iter``/``tol``/``max_fun`` map onto its options.
  Each is registered under SciPy's name (and its lower-case spelling).
* :class:`CustomMinimizer` is a callable minimizer in SciPy's
  custom-method protocol.
* :func:`minimize_scipy` is the one place that calls SciPy.
"""

import copy
import functools
import inspect
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import OptimizeResult, OptimizeWarning, minimize

from skbackprop._training.bounds import project, scipy_bounds
from skbackprop._training.guard import (
    check_finite_gradient,
    checked_hessp,
    non_finite_x,
)
from skbackprop._training.precision import minimize_float32, restarts_apply
from skbackprop._training.progress import Diverged, IterationLimit, StopTraining
from skbackprop._training.solvers import (
    CONVERGED,
    DIVERGED,
    FAILED,
    ITERATION_LIMIT,
    SOLVERS,
    Outcome,
    Solver,
    register,
    register_custom,
)

# The arguments minimize passes to every method by name, which the bridge
# sets (or leaves at None): an option of the same name would reach the method
# twice.  (minimize turns its tol into an option itself.)
_RESERVED_OPTIONS = frozenset(inspect.signature(minimize).parameters) - {
    "method",
    "tol",
    "options",
}


class ScipyMethod(Solver):
    """One method of :func:`scipy.optimize.minimize`.

    ``uses_jac``: it takes the gradient ``D``; ``maxiter``, ``tol`` and
    ``maxfun`` name the options that receive ``max_iter``, ``tol`` and
    ``max_fun`` (None: it has none; without ``maxiter`` the run is ended
    after ``max_iter`` iterations by :class:`Progress`, as SciPy's own
    limits would).
    """

    def __init__(
        self,
        name,
        uses_jac,
        hessp=False,
        maxiter=None,
        tol=None,
        maxfun=None,
        bounds=False,
    ):
        self.name, self.uses_jac, self.hessp = name, uses_jac, hessp
        # Hessian-vector products need the loss's curvature.
        self.curvature = hessp
        self.maxiter, self.tol, self.maxfun = maxiter, tol, maxfun
        self.bounds = bounds

    def scipy_options(self, settings):
        """Options from the estimator's settings and ``solver_options``;
        iteration and evaluation budgets clamped to what SciPy's compiled
        methods take (a C int)."""
        max_fun = settings.max_fun
        if self.name == "TNC":
            max_fun = min(max_fun, _TNC_EVALS_PER_ITER * settings.max_iter)
        values = (
            min(settings.max_iter, _INT_MAX),
            settings.tol,
            min(max_fun, _INT_MAX),
        )
        names = (self.maxiter, self.tol, self.maxfun)
        options = {n: v for n, v in zip(names, values, strict=True) if n}
        options.update(settings.solver_options or {})
        return options

    def iteration_limit(self, settings, options):
        """The limit :class:`Progress` enforces: ``max_iter`` for a method
        without an option of its own, else None."""
        return settings.max_iter if self.maxiter is None else None

    def run(self, objective, theta, progress, settings, state, rng):
        options = self.scipy_options(settings)
        return _run(self, self.name, objective, theta, progress, settings, options)

    def cut_result(self, status, theta, loss, progress):
        if status != ITERATION_LIMIT:
            return None
        return OptimizeResult(
            x=theta,
            fun=loss,
            nit=progress.n_iter,
            success=False,
            status=1,
            message="Maximum number of iterations has been exceeded.",
        )


@register_custom
class CustomMinimizer(ScipyMethod):
    """A callable minimizer in SciPy's custom-method protocol."""

    def __init__(self, minimizer):
        super().__init__(
            getattr(minimizer, "__name__", "custom"), uses_jac=True, hessp=True
        )
        self.minimizer = minimizer
        # Its curvature products are offered, not required.
        self.curvature = False

    def scipy_options(self, settings):
        return {"maxiter": settings.max_iter, **(settings.solver_options or {})}

    def iteration_limit(self, settings, options):
        return None

    def run(self, objective, theta, progress, settings, state, rng):
        options = self.scipy_options(settings)
        return _run(self, self.minimizer, objective, theta, progress, settings, options)

    def describe(self):
        return "The custom solver"


# SciPy's methods; their names match case-insensitively.
for _method in (
    ScipyMethod("L-BFGS-B", True, False, "maxiter", "gtol", "maxfun", bounds=True),
    ScipyMethod("CG", True, False, "maxiter", "gtol"),
    ScipyMethod("BFGS", True, False, "maxiter", "gtol"),
    ScipyMethod("TNC", True, False, None, "gtol", "maxfun", bounds=True),
    ScipyMethod("SLSQP", True, False, "maxiter", "ftol", bounds=True),
    ScipyMethod("Newton-CG", True, True, "maxiter", "xtol"),
    ScipyMethod("trust-ncg", True, True, "maxiter", "gtol"),
    ScipyMethod("trust-krylov", True, True, "maxiter", "gtol"),
    ScipyMethod("trust-constr", True, True, "maxiter", "gtol", bounds=True),
    # Derivative-free methods: accepted for completeness, practical only for
    # tiny networks.
    ScipyMethod("Nelder-Mead", False, False, "maxiter", "fatol"),
    ScipyMethod("Powell", False, False, "maxiter", "ftol"),
    ScipyMethod("COBYLA", False, False, "maxiter", "tol"),
    ScipyMethod("COBYQA", False, False, "maxiter"),
):
    aliases = {_method.name.lower()} - {_method.name}
    if _method.name == "L-BFGS-B":
        aliases.add("lbfgs")  # scikit-learn's name
    register(_method, aliases)

# TNC counts function evaluations, not iterations: give it a budget in
# evaluations that allows max_iter iterations of a few evaluations each.
_TNC_EVALS_PER_ITER = 10

# The largest iteration or evaluation budget SciPy's compiled methods take:
# SLSQP ran 0 iterations and COBYLA overflowed above it.
_INT_MAX = 2**31 - 1


def minimize_scipy(method, fun, theta0, options, on_iteration, hessp=None, bounds=None):
    """Minimize ``fun`` (returning ``(J, D)``) with a SciPy method.

    ``method`` is a canonical name of SciPy's or a callable minimizer in
    SciPy's custom-method protocol.  ``on_iteration(theta, J)`` is called
    after each iteration (:class:`Progress`: it may raise to end the run).
    ``bounds``, None or ``(lower, upper)``, go to the method as
    :class:`~scipy.optimize.Bounds`.  Returns SciPy's
    :class:`~scipy.optimize.OptimizeResult`.
    """
    last = {"theta": None, "J": None}
    uses_jac = callable(method) or SOLVERS[method].uses_jac

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
        on_iteration(theta, float(J))

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
    except ValueError as exc:
        # SciPy's linear algebra refuses what overflowed inside the method
        # itself: the run diverged, like any other non-finite number.
        if "must not contain infs or NaNs" not in str(exc):
            raise
        raise Diverged(np.nan, "SciPy's internal arithmetic became non-finite") from exc
    return result


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


# SciPy's gradient methods stall where the penalty's curvature alpha / S
# dwarfs the data's (of order 1 on scaled inputs).  From about 1e8 L-BFGS-B's
# weights' part of the cost dropped below its rounding while their gradient
# still failed the test, and it stopped on the relative reduction with the
# biases unfitted (TNC, Newton-CG too); from 1e154 squared gradients
# overflowed at the first step (every method).  Above STIFF they run on
# x = theta / d, d a power of two near 1 / sqrt(alpha / S) for the weights
# whose alpha / S exceeds 1 (1 elsewhere): in x the penalty's curvature is
# about 1, the data's at most as before.  A first step of unit length would
# not reach the minimum of weights sqrt(alpha / S) away in x: those above
# STIFF start from one Newton step on the penalty's curvature.
STIFF = 1e4


def _stiff_scaling(objective):
    """``(d, kappa)`` of :data:`STIFF`, ``kappa = alpha / S`` per weight, or
    None below it."""
    net = objective.net
    alpha = np.broadcast_to(np.asarray(objective.alpha, np.float64), net.n_coefs)
    kappa = alpha / objective.weight_sum
    if not np.max(kappa, initial=0.0) > STIFF:
        return None
    d = np.ones(net.n_params)
    stiff = kappa > 1
    half = np.rint(np.log2(kappa[stiff]) / 2).astype(int)
    d[: net.n_coefs][stiff] = np.ldexp(1.0, -half)
    return d, kappa


def _stiff_start(objective, cost_grad, theta, kappa, progress, bounds):
    """``theta`` with the weights of ``alpha / S > STIFF`` at ``-g_W / (alpha /
    S)``, ``g`` the data's gradient (the cost's at ``alpha = 0``): the minimum
    of the penalty plus the data's linearization, whose curvature (below ``1
    / STIFF`` of the penalty's) is neglected; one Newton step on the
    penalty's curvature, without the cancellation of ``W - D_W / (alpha /
    S)``, projected on ``bounds``.  An iteration of the run when it lowers a
    finite cost (one infinite at ``theta`` ends the fit as everywhere else).
    Returns the parameters and whether it stepped."""
    theta = np.array(theta, dtype=np.float64)
    J = cost_grad(theta)[0]
    if not np.isfinite(J):
        return theta, False
    data = copy.copy(objective)
    data.alpha = 0.0
    g = np.asarray(data.cost_grad(theta)[1], np.float64)
    stiff = np.flatnonzero(kappa > STIFF)
    step = theta.copy()
    step[stiff] = -g[stiff] / kappa[stiff]
    if bounds is not None:
        project(step, bounds)
    J_step = cost_grad(step)[0]
    if not J_step < J:
        return theta, False
    progress(step, J_step)
    return step, True


def _run(solver, method, objective, theta, progress, settings, options):
    """One run of ``method`` (a name or a callable) on ``objective``."""
    uses_jac = solver.uses_jac

    def cost_grad(t):
        J, D = objective.cost_grad(t)
        progress.memo = (np.array(t, copy=True), J)
        if uses_jac:
            check_finite_gradient(J, D, t)
        return J, D

    hessp = None
    if solver.hessp:

        def products(t, v):
            return np.asarray(objective.hessp(t, v, settings.curvature), np.float64)

        hessp = checked_hessp(products)

    progress.limit = solver.iteration_limit(settings, options)
    bounds, on_iteration = settings.bounds, progress
    stiff = None if callable(method) or not uses_jac else _stiff_scaling(objective)
    d = None
    if stiff is not None:
        d, kappa = stiff
        theta, stepped = _stiff_start(
            objective, cost_grad, theta, kappa, progress, bounds
        )
        if stepped and "maxiter" in options:
            # The step was the run's first iteration.
            options = {**options, "maxiter": options["maxiter"] - 1}
            if options["maxiter"] < 1:
                raise IterationLimit
        # The method runs on x = theta / d (exact: d holds powers of two).
        theta = theta / d
        cost_grad_theta = cost_grad

        def cost_grad(x):
            J, D = cost_grad_theta(d * x)
            return J, D * d

        def on_iteration(x, J):
            progress(d * x, J)

        if hessp is not None:
            hessp_theta = hessp

            def hessp(x, v):
                return d * hessp_theta(d * x, d * v)

        if bounds is not None:
            bounds = (bounds[0] / d, bounds[1] / d)
    try:
        if restarts_apply(method, objective.net.dtype, settings.solver_options):
            result = minimize_float32(
                functools.partial(minimize_scipy, bounds=bounds),
                cost_grad,
                theta,
                options,
                on_iteration,
                bounds,
            )
        else:
            result = minimize_scipy(
                method,
                cost_grad,
                theta,
                options,
                on_iteration,
                hessp=hessp,
                bounds=bounds,
            )
    except (StopTraining, IterationLimit, KeyboardInterrupt, Diverged):
        raise
    except Exception as exc:
        # SciPy checks few options: a bad value fails deep inside the method.
        if not settings.solver_options or not _raised_in_library(exc):
            raise
        raise ValueError(
            f"{solver.describe()} failed with solver_options="
            f"{settings.solver_options!r}: {type(exc).__name__}: {exc}. Check "
            "the options against the method's documentation in "
            "scipy.optimize.minimize."
        ) from exc
    if d is not None:
        result.x = d * result.x
        for key in ("jac", "grad"):  # the gradient (trust-constr's jac: constraints')
            if np.shape(result.get(key)) == d.shape:
                result[key] = result[key] / d
    # n_iter_ counts the iterations the callback saw, one loss_curve_ entry
    # each (SciPy's nit counts Nelder-Mead's first simplex, COBYQA calls the
    # callback at every evaluation, a custom solver reports what it likes);
    # the loss kept is computed from the parameters, never the solver's fun.
    diverged = non_finite_x(result.x)
    if diverged is not None:
        return Outcome(
            status=DIVERGED, result=result, diverged=diverged, at=progress.n_iter
        )
    success = result.get("success", True)
    return Outcome(
        theta=result.x,
        status=CONVERGED if success else FAILED,
        message=str(result.get("message", "")),
        result=result,
    )
