"""One entry point for every solver: :func:`train`.

A solver is a function ``run(objective, theta, progress, settings, rng,
optimizer) -> (theta, loss, optimize_result, optimizer)`` registered in
:data:`SOLVERS` under its name; SciPy's methods and custom callables share
:func:`~skbackprop._training.scipy_bridge.run_scipy`.  A new solver is one
function here and one entry in the table: the estimators only pass the
settings through.
"""

import numpy as np

from skbackprop._training.bounds import project
from skbackprop._training.evidence import run_evidence
from skbackprop._training.gd import run_gd
from skbackprop._training.least_squares import run_least_squares
from skbackprop._training.lm import run_lm
from skbackprop._training.progress import Progress
from skbackprop._training.scipy_bridge import run_scipy
from skbackprop._training.settings import Result


def _gd(objective, theta, progress, settings, rng, optimizer):
    theta, loss, optimizer = run_gd(
        objective, theta, progress, settings, rng, optimizer
    )
    return theta, loss, None, optimizer


def _scipy(objective, theta, progress, settings, rng, optimizer):
    theta, result, loss = run_scipy(objective, theta, progress, settings)
    return theta, loss, result, None


def _lm(objective, theta, progress, settings, rng, optimizer):
    theta, loss, result = run_lm(objective, theta, progress, settings)
    return theta, loss, result, None


def _least_squares(objective, theta, progress, settings, rng, optimizer):
    theta, loss, result = run_least_squares(objective, theta, progress, settings)
    return theta, loss, result, None


# Solvers by name; any other name is a SciPy method (or a callable minimizer).
SOLVERS = {"gd": _gd, "lm": _lm, "least_squares": _least_squares}


def train(
    objective,
    theta,
    settings,
    rng,
    score=None,
    n_iter=0,
    loss_curve=(),
    optimizer=None,
):
    """Minimize ``objective`` from ``theta`` with the solver ``settings`` name.

    Parameters
    ----------
    objective : Objective
        The cost to minimize.
    theta : ndarray of shape (n_params,)
        Initial parameters, in the network's dtype (may be updated in place).
    settings : Settings
        The solver and its settings.
    rng : RandomState
        Shuffles mini-batches.
    score : callable, default=None
        ``score(theta)``, the validation score of early stopping (higher is
        better): the run keeps the parameters that scored best.
    n_iter, loss_curve, optimizer
        What a continued gradient-descent fit starts from.

    Returns
    -------
    result : Result
        The parameters to keep, the cost there, and the run's record.
    """
    if settings.evidence:
        return run_evidence(objective, theta, settings, rng, train)
    run = SOLVERS.get(settings.solver, _scipy)
    gd = settings.solver == "gd"
    progress = Progress(
        settings,
        score,
        train_loss_rule=gd,
        n_iter=n_iter,
        curve=list(loss_curve),
    )
    # Gradient descent makes no BLAS calls between its evaluations.
    with objective.threads(settings.batch_size if gd else None, between=not gd):
        theta, loss, optimize_result, optimizer = run(
            objective, theta, progress, settings, rng, optimizer
        )
        if score is not None and progress.best_theta is not None:
            theta = progress.best_theta
            # loss is the cost of the parameters kept, not the last iterate's.
            loss = objective.cost_grad(theta)[0]
    theta = np.asarray(theta, dtype=objective.net.dtype)
    if settings.bounds is not None and project(theta, settings.bounds):
        # A solver's tolerance left theta a rounding error outside its box.
        loss = objective.cost_grad(theta)[0]
    if not np.isfinite(theta).all():
        raise ValueError(
            "The solver produced non-finite weights. Scale the inputs or use "
            "a larger alpha."
        )
    return Result(
        theta=theta,
        loss=float(loss),
        n_iter=progress.n_iter,
        loss_curve=progress.loss_curve,
        best_loss=None if score is not None else progress.best_loss,
        validation_scores=progress.validation_scores,
        best_validation_score=progress.best_validation_score,
        optimize_result=optimize_result,
        optimizer=optimizer,
    )
