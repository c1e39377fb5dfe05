"""Solvers: the SciPy bridge and plain gradient descent.

The estimator owns the training loop; this module owns one step of it.

* :data:`SCIPY_METHODS` says, for each method of :func:`scipy.optimize.minimize`
  this package accepts, whether it uses the gradient ``D`` and curvature
  products, and how ``max_iter``/``tol`` map onto its options.
* :func:`minimize_scipy` is the one place that calls SciPy.
* :class:`GradientDescent` is one update ``theta -= eta * D`` (seed 001's
  step), with optional classical or Nesterov momentum and a step-size schedule.
"""

import warnings

import numpy as np
from scipy.optimize import OptimizeResult, OptimizeWarning, minimize


class StopTraining(Exception):
    """Raised from inside an optimizer's callback to end the fit early."""


class _IterationLimit(Exception):
    """Raised from the callback when a method without ``maxiter`` used up max_iter."""


def _options(maxiter=None, tol=None, maxfun=None):
    def make(max_iter, tol_value, max_fun):
        opts = {}
        if maxiter:
            opts[maxiter] = max_iter
        if tol:
            opts[tol] = tol_value
        if maxfun:
            opts[maxfun] = max_fun
        return opts

    return make


# method -> (uses the gradient, uses hessp, makes options from
# (max_iter, tol, max_fun)).  Keys are SciPy's names, matched case-insensitively.
SCIPY_METHODS = {
    "L-BFGS-B": (True, False, _options("maxiter", "gtol", "maxfun")),
    "CG": (True, False, _options("maxiter", "gtol")),
    "BFGS": (True, False, _options("maxiter", "gtol")),
    "TNC": (True, False, _options(None, "gtol", "maxfun")),
    "SLSQP": (True, False, _options("maxiter", "ftol")),
    "Newton-CG": (True, True, _options("maxiter", "xtol")),
    "trust-ncg": (True, True, _options("maxiter", "gtol")),
    "trust-krylov": (True, True, _options("maxiter", "gtol")),
    "trust-constr": (True, True, _options("maxiter", "gtol")),
    # Derivative-free methods: accepted for completeness, practical only for
    # tiny networks.
    "Nelder-Mead": (False, False, _options("maxiter", "fatol")),
    "Powell": (False, False, _options("maxiter", "ftol")),
    "COBYLA": (False, False, _options("maxiter", "tol")),
    "COBYQA": (False, False, _options("maxiter")),
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


def scipy_options(method, max_iter, tol, max_fun, solver_options):
    """Options for ``method`` from the estimator's settings and ``solver_options``."""
    _, _, make = SCIPY_METHODS[method]
    if method == "TNC":
        max_fun = min(max_fun, _TNC_EVALS_PER_ITER * max_iter)
    options = make(max_iter, tol, max_fun)
    options.update(solver_options or {})
    return options


def minimize_scipy(
    method, fun, theta0, options, on_iteration, hessp=None, max_iter=None
):
    """Minimize ``fun`` (returning ``(J, D)``) with a SciPy method.

    ``method`` is a canonical name from :data:`SCIPY_METHODS` or a callable
    minimizer in SciPy's custom-method protocol.  ``on_iteration(theta, J)``
    is called after each iteration and may raise :class:`StopTraining`.
    ``max_iter``, for methods without an iteration limit of their own (TNC),
    ends the minimization after that many iterations with an unsuccessful
    result, as SciPy's own limits do.

    Returns ``(theta, result, stopped)``: the final parameters, SciPy's
    :class:`~scipy.optimize.OptimizeResult` (None when the fit was stopped
    before SciPy returned), and the reason it was stopped early
    (None, ``"callback"`` or ``"interrupt"``).
    """
    last = {"theta": None, "J": None, "accepted": theta0, "nit": 0}
    uses_jac = True if callable(method) else SCIPY_METHODS[method][0]

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


class GradientDescent:
    """Plain gradient descent with optional momentum, one update at a time.

    The update is seed 001's ``theta <- theta - eta D``; with momentum ``mu``
    the velocity ``v <- mu v - eta D`` is added instead (and, for Nesterov,
    ``mu v - eta D`` again, the look-ahead form of Sutskever et al. 2013).

    Parameters
    ----------
    learning_rate_init : float
        Initial step size ``eta_0``.
    learning_rate : {"constant", "invscaling", "adaptive"}
        ``"invscaling"`` uses ``eta_t = eta_0 / (t + 1) ** power_t`` after
        ``t`` updates; ``"adaptive"`` divides ``eta`` by 5 each time the
        training loss stops improving (see :meth:`reduce`).
    power_t : float
        Exponent of ``"invscaling"``.
    momentum : float
        ``mu`` in ``[0, 1)``; 0 is plain gradient descent.
    nesterov : bool
        Use Nesterov's momentum.
    """

    def __init__(self, learning_rate_init, learning_rate, power_t, momentum, nesterov):
        self.learning_rate_init = learning_rate_init
        self.schedule = learning_rate
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.eta = learning_rate_init
        self.t = 0
        self.velocity = None

    def update(self, theta, D):
        """Take one step in place on ``theta`` along ``-D`` (``D`` is overwritten)."""
        if self.schedule == "invscaling":
            self.eta = self.learning_rate_init / (self.t + 1) ** self.power_t
        step = np.multiply(D, theta.dtype.type(-self.eta), out=D)
        if self.momentum:
            if self.velocity is None:
                self.velocity = np.zeros_like(theta)
            v = self.velocity
            v *= theta.dtype.type(self.momentum)
            v += step
            if self.nesterov:
                step = v * theta.dtype.type(self.momentum) + step
            else:
                step = v
        theta += step
        self.t += 1

    def reduce(self):
        """Divide the step size by 5 (adaptive schedule); False when too small."""
        if self.schedule != "adaptive" or self.eta <= 1e-6:
            return False
        self.eta /= 5.0
        return True
