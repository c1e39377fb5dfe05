"""One entry point for every solver: :func:`train`, and the one place that
decides how a run ended.

:func:`train` runs the registered :class:`~skbackprop._training.solvers.Solver`
the settings name on an objective.  Whatever ends the run (the solver
converging or reaching a limit of its own, the callback or early stopping,
an interruption, a non-finite number, ``max_iter`` counted by
:class:`~skbackprop._training.progress.Progress`) becomes an
:class:`~skbackprop._training.solvers.Outcome`, and :func:`finish` turns it
into the :class:`~skbackprop._training.settings.Result`: the parameters
kept, the cost there (always computed from them), a loss curve and
iteration count that end at them, the warnings, and in verbose mode one
closing line saying why the run stopped and what was kept.
"""

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skbackprop._training.bounds import project
from skbackprop._training.evidence import run_evidence
from skbackprop._training.guard import kept_description, penalty_overflows
from skbackprop._training.progress import (
    Diverged,
    IterationLimit,
    Progress,
    StopTraining,
    divergence_message,
    inputs_scaled,
    warn,
)
from skbackprop._training.settings import Result
from skbackprop._training.solvers import (
    CONVERGED,
    DIVERGED,
    INTERRUPTED,
    ITERATION_LIMIT,
    STOPPED,
    Outcome,
)

_INTERRUPTED = "Training interrupted by user."


def train(
    objective,
    theta,
    settings,
    rng,
    score=None,
    loss_curve=(),
    optimizer=None,
    emit=True,
):
    """Minimize ``objective`` from ``theta`` with the solver of ``settings``.

    Parameters
    ----------
    objective : Objective
        The cost to minimize.
    theta : ndarray of shape (n_params,)
        Initial parameters, in the network's dtype (may be updated in place).
    settings : Settings
        The solver (a registered :class:`Solver`) and its settings.
    rng : RandomState
        Shuffles mini-batches.
    score : callable, default=None
        ``score(theta)``, the validation score of early stopping (higher is
        better): the run keeps the parameters that scored best.
    loss_curve, optimizer
        What a continued gradient-descent fit starts from.
    emit : bool, default=True
        Give the run's warnings; False leaves them in ``Result.warnings``
        (the evidence's inner runs).

    Returns
    -------
    result : Result
        The parameters to keep, the cost there, and the run's record.
    """
    if settings.evidence:
        return run_evidence(objective, theta, settings, rng, train)
    solver = settings.solver
    solver.check(objective, settings)
    progress = Progress(settings, score, solver.loss_rule, list(loss_curve))
    start = np.array(theta, copy=True)
    batch = settings.batch_size if solver.mini_batch else None
    with objective.threads(batch, between=solver.between):
        try:
            outcome = solver.run(objective, theta, progress, settings, optimizer, rng)
        except StopTraining as exc:
            # A stopping rule ends a run as converged; the callback stops it.
            outcome = Outcome(
                status=CONVERGED if exc.rule else STOPPED, message=str(exc)
            )
        except IterationLimit:
            outcome = Outcome(
                status=ITERATION_LIMIT,
                message="Maximum number of iterations has been exceeded.",
            )
        except KeyboardInterrupt:
            outcome = Outcome(status=INTERRUPTED, message=_INTERRUPTED)
        except Diverged as exc:
            outcome = Outcome(status=DIVERGED, diverged=exc, at=progress.n_iter + 1)
        result = finish(objective, solver, start, outcome, progress, settings, score)
    if emit:
        for message, category in result.warnings:
            warn(message, category)
        if result.unconverged:
            warn(result.unconverged)
    return result


def finish(objective, solver, start, outcome, progress, settings, score):
    """The :class:`Result` of a run that ended with ``outcome``.

    The parameters kept: the best-scoring ones under early stopping; where
    the solver ended, if it returned finite parameters by itself; otherwise
    the last iterate :class:`Progress` recorded (``start`` if none), the
    loss curve cut back to it.  The loss is the cost there, computed afresh
    (a mini-batch descent's, the average over its last epoch's batches, as
    its loss curve records).
    """
    status, last = outcome.status, progress.last
    from_solver = outcome.theta is not None and status != DIVERGED
    if from_solver:
        theta = np.asarray(outcome.theta)
    elif last is not None:
        theta = last[1]
        del progress.loss_curve[last[0] :]
    else:
        theta = start
        del progress.loss_curve[progress.start :]
    kept = None
    if score is not None and progress.best_theta is not None:
        theta, kept = progress.best_theta, kept_description(progress)
    theta = np.array(theta, dtype=np.float64)
    # A solver's tolerance may leave theta a rounding error outside its box.
    moved = settings.bounds is not None and project(theta, settings.bounds)
    averaged = kept is None and solver.averages_loss(objective, settings)
    if averaged and last is not None:
        loss = float(last[2])
    elif moved:
        loss = float(solver.evaluate(objective, theta))
    else:
        loss = float(solver.cost(objective, theta, progress))
    theta = np.array(theta, dtype=objective.net.dtype)

    texts = outcome.warnings + solver.diagnostics(progress, loss, settings)
    warnings = [(text, ConvergenceWarning) for text in texts]
    diverged, at = outcome.diverged, outcome.at
    if diverged is None and not np.isfinite(loss):
        # The solver returned parameters whose cost is not finite.
        diverged, at = Diverged(loss, theta=theta), progress.n_iter
        theta = start if last is None else np.array(last[1], objective.net.dtype)
        loss = float(solver.evaluate(objective, theta))
    if diverged is not None:
        where = diverged.theta if diverged.theta is not None else theta
        text = divergence_message(
            solver.advice(settings),
            diverged.args[0],
            at,
            loss,
            what=diverged.args[1],
            kept=kept,
            penalty=penalty_overflows(objective, where),
        )
        warnings.append((text, ConvergenceWarning))
    elif status == INTERRUPTED:
        warnings.append((_INTERRUPTED, ConvergenceWarning))
    unconverged = None
    if diverged is None and status not in (CONVERGED, STOPPED, INTERRUPTED):
        unconverged = solver.convergence_warning(
            progress.n_iter, outcome.message, inputs_scaled(objective)
        )
    if not np.isfinite(theta).all():
        raise ValueError(
            "The solver produced non-finite weights. Scale the inputs or use "
            "a larger alpha."
        )
    result = outcome.result
    if result is None and not from_solver:
        result = solver.cut_result(status, theta, loss, progress)
    if settings.verbose:
        print(_closing_line(solver, outcome, progress, kept, from_solver, loss))
    return Result(
        theta=theta,
        loss=loss,
        n_iter=progress.n_iter,
        loss_curve=progress.loss_curve,
        best_loss=None if score is not None else progress.best_loss,
        validation_scores=progress.validation_scores,
        best_validation_score=progress.best_validation_score,
        optimize_result=result,
        optimizer=outcome.state if outcome.state is not None else progress.state,
        status=status,
        warnings=warnings,
        unconverged=unconverged,
    )


def _closing_line(solver, outcome, progress, kept, from_solver, loss):
    """Verbose output's last line: why the run stopped, what was kept."""
    status = outcome.status
    if status == DIVERGED:
        why = f"{outcome.diverged.args[1]} at iteration {outcome.at}"
    elif outcome.message:
        why = outcome.message.rstrip(".")
    else:
        why = status
    if kept is not None:
        what = kept
    elif from_solver:
        what = "its final parameters"
    elif progress.last is not None:
        what = f"the parameters of iteration {progress.n_iter}"
    else:
        what = "the initial parameters"
    line = f"{solver.describe()} stopped ({status}): {why}. Kept {what}, "
    line += f"loss {loss:.8f}."
    mu = progress.info.get("mu")
    if mu is not None:
        line += f" Final damping mu = {mu:.3g}."
    return line
