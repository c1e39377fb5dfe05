"""Resilient backpropagation, iRprop+: ``solver="rprop"``.

Rprop (Riedmiller & Braun 1993) gives every parameter its own step size
``Delta_i`` and moves it by ``-sign(D_i) Delta_i``: only the gradient's
signs are used, never its size.  While ``D_i`` keeps its sign, ``Delta_i``
grows by ``eta_plus``; when the sign flips (the last step jumped over a
minimum along ``i``), it shrinks by ``eta_minus``, within
``[delta_min, delta_max]``.  iRprop+ (Igel & Hüsken 2000, "Improving the
Rprop learning algorithm") adds weight backtracking only when it helps:
after a sign flip, parameter ``i`` returns to its previous value if the
cost ``J`` rose in the last iteration, and stays put otherwise; either
way its stored gradient is set to zero, so the next iteration moves it
without changing ``Delta_i``.  Per iteration, with ``g_i`` the previous
(stored) gradient::

    g_i D_i > 0:  Delta_i = min(eta_plus Delta_i, delta_max)
                  theta_i -= sign(D_i) Delta_i
    g_i D_i < 0:  Delta_i = max(eta_minus Delta_i, delta_min)
                  theta_i = its previous value if J rose; D_i := 0
    g_i D_i = 0:  theta_i -= sign(D_i) Delta_i

Defaults: ``eta_plus = 1.2`` and ``eta_minus = 0.5`` (both papers and
MATLAB's ``trainrp``), ``delta0 = 0.07`` and ``delta_max = 50``
(``trainrp``'s; Riedmiller & Braun used 0.1 and 50) and ``delta_min =
1e-6`` (Riedmiller & Braun's; ``trainrp`` has no floor).  The floor keeps
steps that shrank on a sign flip from taking many iterations to grow
again, but also keeps ``max|D|`` near ``delta_min`` times the curvature: a
``tol`` below that needs a smaller ``delta_min`` (the user guide has the
measurements).  It must be positive: a step size that underflowed to zero
would never grow again.

Each iteration is one full-batch evaluation of ``(J, D)`` (none when no
parameter moved), at the parameters it produced: the loss curve records
the cost of every iterate, which may rise (backtracking then answers it).

The run ends when ``max|D| <= tol`` (the test of ``"lm"``; with bounds,
over the parameters free to move), or after ``max_iter`` iterations.  With
``settings.bounds`` every step is clipped onto the box; a parameter at a
bound whose gradient points outwards counts as having a zero gradient (it
neither moves nor changes its step size), so that it leaves the bound with
the step size it had when the gradient turns.  ``optimize_result_.status``
is 0 (``max|D| <= tol``) or 1 (``max_iter``); 3 for a run the callback,
early stopping or an interruption ended, 4 for a non-finite cost or
gradient.
"""

import numpy as np
from scipy.optimize import OptimizeResult

from skbackprop._training.bounds import project
from skbackprop._training.guard import check_finite_gradient
from skbackprop._training.progress import Diverged
from skbackprop._training.solvers import (
    CONVERGED,
    ITERATION_LIMIT,
    CountingSolver,
    Outcome,
    check_option_names,
    real_option,
    register,
    scale_advice,
)

# solver_options of "rprop" and their defaults (see the module docstring).
DEFAULTS = {
    "delta0": 0.07,
    "delta_min": 1e-6,
    "delta_max": 50.0,
    "eta_plus": 1.2,
    "eta_minus": 0.5,
}


def rprop_options(solver_options):
    """:data:`DEFAULTS` updated by ``solver_options``, checked."""
    given = dict(solver_options or {})
    check_option_names("rprop", given, DEFAULTS)
    options = dict(DEFAULTS)
    for name, value in given.items():
        options[name] = real_option(name, value)
    if options["eta_plus"] <= 1:
        raise ValueError(f"eta_plus must be above 1, got {options['eta_plus']!r}.")
    if options["eta_minus"] >= 1:
        raise ValueError(f"eta_minus must be below 1, got {options['eta_minus']!r}.")
    if not options["delta_min"] <= options["delta0"] <= options["delta_max"]:
        raise ValueError(
            "The step sizes must satisfy delta_min <= delta0 <= delta_max, got "
            f"delta_min={options['delta_min']!r}, delta0={options['delta0']!r}, "
            f"delta_max={options['delta_max']!r}."
        )
    return options


class Rprop(CountingSolver):
    """``solver="rprop"``: iRprop+, full batch."""

    name = "rprop"
    doc = (
        "resilient backpropagation, iRprop+ (Igel & Hüsken 2000; MATLAB's "
        "``trainrp``), full batch: one step size per parameter, grown while its "
        "gradient keeps its sign and shrunk when the sign flips; invariant to "
        "the gradient's scale, it suits badly scaled problems (see "
        ":ref:`rprop`).  Keeps ``monotonic_cst``'s bounds; ``solver_options`` "
        "sets ``delta0`` (0.07), ``delta_min`` (1e-6), ``delta_max`` (50), "
        "``eta_plus`` (1.2), ``eta_minus`` (0.5)."
    )
    bounds = True  # by projection
    # Element-wise updates only: no BLAS calls between evaluations.
    between = False

    def check(self, objective, settings):
        super().check(objective, settings)
        rprop_options(settings.solver_options)

    def run(self, objective, theta, progress, settings, state, rng):
        options = rprop_options(settings.solver_options)
        return _irprop_plus(objective, theta, progress, settings, options)

    def convergence_warning(self, n_iter, message, scaled=False):
        return (
            f"{self.describe()} did not converge after {n_iter} iteration(s): "
            f"{message} Increase max_iter{scale_advice(scaled)}; for a small tol, "
            "also lower solver_options['delta_min'] (default "
            f"{DEFAULTS['delta_min']:g}): no step shrinks below it."
        )

    def advice(self, settings):
        options = rprop_options(settings.solver_options)
        return (
            "smaller step sizes (solver_options delta0 and delta_max, now "
            f"{options['delta0']:g} and {options['delta_max']:g})"
        )


register(Rprop())


def _free_gradient(theta, D, bounds):
    """``D`` with zeros where a bound holds a parameter the gradient pushes
    outwards (a copy, in float64)."""
    g = np.array(D, dtype=np.float64)
    if bounds is not None:
        lower, upper = bounds
        g[((theta <= lower) & (g > 0)) | ((theta >= upper) & (g < 0))] = 0.0
    return g


def _irprop_plus(objective, theta, progress, settings, options):
    bounds = settings.bounds
    theta = np.array(theta, dtype=np.float64)
    J, D = objective.cost_grad(theta)
    info = progress.info = {"nit": 0, "nfev": 1, "njev": 1}
    if not np.isfinite(J):
        raise Diverged(J, theta=theta)
    check_finite_gradient(J, D, theta)
    progress.memo = (theta.copy(), J)
    eta_plus, eta_minus = options["eta_plus"], options["eta_minus"]
    delta_min, delta_max = options["delta_min"], options["delta_max"]
    Delta = np.full(theta.shape, options["delta0"])
    # The previous iteration's gradient signs (0 after a sign flip) and
    # iterate, and the cost there (infinite: no backtracking at first).
    previous_sign = np.zeros(theta.shape)
    previous_theta, previous_J = theta, np.inf
    status = None
    while True:
        g = _free_gradient(theta, D, bounds)
        if np.max(np.abs(g), initial=0.0) <= settings.tol:
            status, code, message = CONVERGED, 0, "max|D| <= tol."
            break
        if info["nit"] >= settings.max_iter:
            break
        sign = np.sign(g)
        product = previous_sign * sign
        grow, flip = product > 0, product < 0
        Delta[grow] = np.minimum(Delta[grow] * eta_plus, delta_max)
        Delta[flip] = np.maximum(Delta[flip] * eta_minus, delta_min)
        sign[flip] = 0.0  # no move now, and no sign to compare with next
        new = theta - sign * Delta
        if J > previous_J:
            new[flip] = previous_theta[flip]  # backtrack: undo the last step
        if bounds is not None:
            project(new, bounds)
        previous_sign, previous_theta, previous_J = sign, theta, J
        if not np.array_equal(new, theta):
            J, D = objective.cost_grad(new)
            info["nfev"] += 1
            info["njev"] += 1
            check_finite_gradient(J, D, new)
            progress.memo = (new.copy(), J)
        theta = new
        info["nit"] += 1
        progress(theta, J)
    if status is None:
        status, code = ITERATION_LIMIT, 1
        message = (
            f"Maximum number of iterations has been exceeded ({info['nit']} "
            "iterations)."
        )
    result = OptimizeResult(
        x=theta,
        fun=J,
        jac=np.asarray(D),
        **info,
        status=code,
        success=status == CONVERGED,
        message=message,
    )
    return Outcome(theta=theta, status=status, message=message, result=result)
