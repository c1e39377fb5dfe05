"""Scaled conjugate gradients with exact curvature products: ``solver="scg"``.

Møller's scaled conjugate gradient (Møller 1993, "A scaled conjugate
gradient algorithm for fast supervised learning", *Neural Networks*
6(4):525-533; MATLAB's ``trainscg``) replaces the line search of
conjugate gradients by one step to the minimum of a quadratic model along
the direction ``p``, whose curvature ``delta = p'(H + lambda I)p`` is
scaled by ``lambda`` as in Levenberg-Marquardt.  Møller approximated
``H p`` by a difference of gradients; here it is the exact product of the
R-operator (Pearlmutter 1994), ``H p`` or the Gauss-Newton ``G p``
(``settings.curvature``; ``G p``, cheaper and never negative, took less
work on most of ``benchmarks/bench_solvers.py``'s problems).  One
iteration, with ``r = -D`` (Møller's steps 2-8; ``lambda`` carries his
scaling, so that his bookkeeping ``lambda_bar`` is implied)::

    delta = p'Hp + lambda |p|^2              (H p again after an accepted step)
    if delta <= 0:                             (H indefinite along p)
        lambda = 2 (lambda - delta / |p|^2);  delta = p'Hp + lambda |p|^2 = -p'Hp
    mu = p'r;  alpha = mu / delta
    Delta = 2 delta (J(theta) - J(theta + alpha p)) / mu^2
    Delta >= 0:   accept theta + alpha p; p = r_new + beta p with
                  beta = (|r_new|^2 - r_new'r) / mu (p = r_new every
                  n_params accepted steps); lambda /= 2 if Delta >= 0.75
    Delta < 0:    reject: the same p with a larger lambda
    Delta < 0.25: lambda *= 4

``lambda`` starts at ``5e-7`` (``trainscg``'s; Møller: at most ``1e-6``)
and is kept at least ``1e-15`` (Netlab's ``scg`` floor), so that it can
grow again after many good steps.  ``delta`` is in the units of ``H``,
the curvature of the cost averaged over the rows.

An accepted iteration costs one cost-gradient evaluation (at the trial
point, whose gradient is the next one's) and one curvature product; a
rejected trial, one evaluation, counted against ``max_fun``.  The run ends
when ``max|D| <= tol`` (the test of ``"lm"``), after ``max_iter`` accepted
iterations, after ``max_fun`` evaluations, or when the trial step no
longer changes the parameters in the network's precision (``lambda`` has
grown until no scaled step lowers ``J``: a minimum to working precision).
``optimize_result_.status`` says which: 0 (``max|D| <= tol``), 1
(``max_iter``), 2 (``max_fun``), 5 (the step below the parameters'
resolution); 3 for a run the callback, early stopping or an interruption
ended, 4 for a non-finite cost, gradient or curvature product.
"""

import numpy as np
from scipy.optimize import OptimizeResult

from skbackprop._training.guard import check_finite_gradient, checked_hessp
from skbackprop._training.progress import Diverged
from skbackprop._training.solvers import (
    CONVERGED,
    EVALUATION_LIMIT,
    ITERATION_LIMIT,
    CountingSolver,
    Outcome,
    check_option_names,
    real_option,
    register,
)

# solver_options of "scg" and their defaults (see the module docstring).
DEFAULTS = {"lambda": 5e-7}

# The smallest lambda (Netlab's scg): halved after every very good step, it
# would otherwise underflow, and four times zero is zero.
LAMBDA_MIN = 1e-15


def scg_options(solver_options):
    """:data:`DEFAULTS` updated by ``solver_options``, checked."""
    given = dict(solver_options or {})
    check_option_names("scg", given, DEFAULTS)
    options = dict(DEFAULTS)
    for name, value in given.items():
        options[name] = real_option(name, value, minimum=LAMBDA_MIN)
    return options


def _dot(a, b):
    # einsum makes no BLAS call: none between evaluations (the thread policy).
    return float(np.einsum("i,i->", a, b))


class ScaledConjugateGradient(CountingSolver):
    """``solver="scg"``: Møller's scaled conjugate gradients, exact ``H p``."""

    name = "scg"
    diverged_text = "The cost, gradient or a curvature product is not finite."
    doc = (
        "Møller's (1993) scaled conjugate gradients (MATLAB's ``trainscg``) "
        "with exact curvature products along the search direction (see "
        '``curvature`` and :ref:`scg`; ``curvature="gauss-newton"`` took '
        "less work than the exact Hessian, and L-BFGS-B less than either, on "
        "every benchmark problem); ``solver_options`` sets the initial "
        "scaling ``lambda`` (5e-7)."
    )
    hessp = True
    curvature = True
    between = False

    def check(self, objective, settings):
        super().check(objective, settings)
        scg_options(settings.solver_options)

    def run(self, objective, theta, progress, settings, state, rng):
        options = scg_options(settings.solver_options)
        return _scaled_conjugate_gradient(objective, theta, progress, settings, options)


register(ScaledConjugateGradient())


def _scaled_conjugate_gradient(objective, theta, progress, settings, options):
    dtype = objective.net.dtype
    curvature = settings.curvature

    def product(t, v):
        return np.asarray(objective.hessp(t, v, curvature), np.float64)

    hessp = checked_hessp(product)
    theta = np.array(theta, dtype=np.float64)
    J, D = objective.cost_grad(theta)
    info = progress.info = {
        "nit": 0,
        "nfev": 1,
        "njev": 1,
        "nhev": 0,
        "lambda": options["lambda"],
    }
    if not np.isfinite(J):
        raise Diverged(J, theta=theta)
    check_finite_gradient(J, D, theta)
    progress.memo = (theta.copy(), J)
    r = -np.asarray(D, np.float64)
    p = r.copy()
    lam, success = options["lambda"], True
    n = theta.size
    status = None
    while True:
        if np.max(np.abs(r), initial=0.0) <= settings.tol:
            status, code, message = CONVERGED, 0, "max|D| <= tol"
            break
        if info["nit"] >= settings.max_iter:
            status, code = ITERATION_LIMIT, 1
            message = "Maximum number of iterations has been exceeded"
            break
        if info["nfev"] >= settings.max_fun:
            status, code = EVALUATION_LIMIT, 2
            message = "Maximum number of cost evaluations has been exceeded"
            break
        pp = _dot(p, p)
        if success:
            # Second-order information along p (Møller's step 2), exact.
            pHp = _dot(p, hessp(theta, p))
            info["nhev"] += 1
        # The scaled curvature (step 3), made positive (step 4).
        delta = pHp + lam * pp
        if delta <= 0:
            lam = 2 * (lam - delta / pp)
            delta = pHp + lam * pp
        mu = _dot(p, r)
        alpha = mu / delta
        trial = theta + alpha * p
        if np.array_equal(trial.astype(dtype), theta.astype(dtype)):
            status, code = CONVERGED, 5
            message = (
                "The scaled step no longer changes the parameters: no step "
                "along the search direction lowers the loss"
            )
            break
        J_new, D_new = objective.cost_grad(trial)
        info["nfev"] += 1
        info["njev"] += 1
        # The comparison parameter (step 6): the actual decrease over the
        # model's, mu^2 / (2 delta); an overflowing trial is rejected.
        predicted = mu * alpha / 2
        if np.isfinite(J_new) and predicted > 0:
            Delta = (J - J_new) / predicted
        else:
            Delta = -np.inf
        if Delta >= 0:
            check_finite_gradient(J_new, D_new, trial)
            r_new = -np.asarray(D_new, np.float64)
            info["nit"] += 1
            if info["nit"] % n == 0:
                p = r_new.copy()
            else:
                beta = (_dot(r_new, r_new) - _dot(r_new, r)) / mu
                p = r_new + beta * p
            theta, J, D, r = trial, J_new, D_new, r_new
            progress.memo = (theta.copy(), J)
            success = True
            if Delta >= 0.75:
                lam = max(lam / 2, LAMBDA_MIN)
        else:
            success = False
        if not Delta >= 0.25:
            lam = 4 * lam
        info["lambda"] = lam
        if success:
            progress(theta, J)
    message += f" ({info['nit']} iterations, {info['nfev']} cost evaluations)."
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
