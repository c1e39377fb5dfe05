"""Per-iteration bookkeeping shared by every solver.

:class:`Progress` records the loss curve and validation scores, applies the
stopping rules (training loss for gradient descent, validation score for
early stopping), prints in verbose mode, calls the user's callback, and
raises :class:`StopTraining` when the fit should end.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn.base
from scipy.optimize import OptimizeResult
from sklearn.exceptions import ConvergenceWarning

# Warnings point past this package's frames and scikit-learn's fit wrapper.
_INTERNAL = (
    str(Path(__file__).resolve().parent.parent),
    str(Path(sklearn.base.__file__).resolve()),
)


_LOSS = "The training loss became non-finite"
_LAST_FINITE = "the last parameters with a finite loss"


class StopTraining(Exception):
    """Raised from inside an optimizer's callback to end the fit early: by
    the user's callback, or (``rule=True``) by a stopping rule, whose
    message says which."""

    def __init__(self, message="Stopped by the callback.", rule=False):
        super().__init__(message)
        self.rule = rule


class IterationLimit(Exception):
    """Raised from :class:`Progress` when a run used up ``max_iter`` and its
    solver has no iteration limit of its own."""


class Diverged(Exception):
    """The loss, the gradient or a curvature product became non-finite.

    ``Diverged(value, what, theta)``: the non-finite ``value``, the sentence
    that says what became non-finite, and the parameters where it did (None
    if unknown).
    """

    def __init__(self, value, what=_LOSS, theta=None):
        super().__init__(value, what)
        self.theta = theta


def warn(message, category=ConvergenceWarning):
    """Warn, pointing at the first caller outside this package."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def inputs_scaled(objective):
    """Whether the inputs are known to be on about a unit scale: every
    column that varies with a standard deviation in [1e-2, 10] and a mean
    within 10 of 0, as ``StandardScaler`` or ``MinMaxScaler`` leave them.
    False where that is not known (data not in memory).  The advice to scale
    them is given only where they are not."""
    X = getattr(objective, "X", None)
    if X is None or hasattr(X, "__dask_graph__") or not X.shape[0]:
        return False
    # Inputs near 1e200 overflow the squares: not scaled, and no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        if hasattr(X, "multiply"):  # scipy.sparse
            mean = np.asarray(X.mean(axis=0), np.float64).ravel()
            square = np.asarray(X.multiply(X).mean(axis=0), np.float64).ravel()
            std = np.sqrt(np.maximum(square - mean**2, 0.0))
        else:
            mean = np.mean(X, axis=0, dtype=np.float64)
            std = np.std(X, axis=0, dtype=np.float64)
    varies = ~(std <= 0)  # NaN (overflow) counts as varying
    return bool(
        np.all((std[varies] >= 1e-2) & (std[varies] <= 10))
        and np.all(np.abs(mean) <= 10)
    )


class Progress:
    """The loop's bookkeeping, fed by plain settings and a scoring function.

    Every iteration a solver reports, with the parameters it accepted and
    their cost, is recorded in one step (:attr:`last`, set after the loss
    curve grew), so that a run interrupted anywhere keeps parameters, loss
    curve and iteration count that belong together.

    Parameters
    ----------
    settings : Settings
        ``tol``, ``n_iter_no_change``, ``verbose``, ``callback`` and
        ``max_iter`` are read.
    score : callable or None
        ``score(theta) -> float``, higher is better: the validation score of
        early stopping, or None.
    train_loss_rule : bool
        Stop when the training loss stops improving (gradient descent).
    curve : list of float
        The loss curve so far (continued fits); this run's iterations are
        counted from its end.
    limit : int or None
        Raise :class:`IterationLimit` after this many iterations (for
        solvers without an iteration limit of their own).
    """

    def __init__(self, settings, score, train_loss_rule, curve, limit=None):
        self.settings = settings
        self.score = score
        self.train_loss_rule = train_loss_rule
        self.loss_curve = curve
        self.start = len(curve)
        self.limit = limit
        self.best_loss = min(curve, default=np.inf)
        self.validation_scores = [] if score is not None else None
        self.best_validation_score = -np.inf if score is not None else None
        self.best_theta = None
        self.no_improvement = 0
        # (length of the loss curve, parameters, loss) of the last iterate
        # recorded: the parameters a stopped run keeps.
        self.last = None
        self.reduce_step = None  # set by gradient descent (adaptive schedule)
        # What a solver keeps for the end of its run: its live state (the
        # gradient-descent optimizer), its counts (e.g. lm's damping).
        self.state = None
        self.info = {}
        # (parameters, cost) of the solver's last evaluation, if it noted it.
        self.memo = None

    @property
    def n_iter(self):
        """Iterations recorded in this run."""
        return len(self.loss_curve) - self.start

    @property
    def last_theta(self):
        """The last iterate recorded (a copy), or None."""
        return None if self.last is None else self.last[1]

    def __call__(self, theta, loss):
        s = self.settings
        if not np.isfinite(loss):
            raise Diverged(loss, theta=theta)
        theta = np.array(theta, copy=True)
        self.loss_curve.append(loss)
        self.last = (len(self.loss_curve), theta, loss)
        if s.verbose:
            print(f"Iteration {self.n_iter}, loss = {loss:.8f}")
        score = None
        if self.score is not None:
            score = self.score(theta)
            self.validation_scores.append(score)
            if s.verbose:
                print(f"Validation score: {score:f}")
            improved = score >= self.best_validation_score + s.tol
            if score > self.best_validation_score:
                self.best_validation_score = score
                self.best_theta = theta
        else:
            improved = loss <= self.best_loss - s.tol
        self.best_loss = min(self.best_loss, loss)
        self.no_improvement = 0 if improved else self.no_improvement + 1

        if s.callback is not None:
            state = OptimizeResult(
                nit=self.n_iter,
                fun=loss,
                x=np.array(theta, copy=True),
                validation_score=score,
            )
            try:
                stop = s.callback(state)
            except StopIteration:
                stop = True
            # True or any NumPy boolean (a comparison's result) stops.
            if isinstance(stop, bool | np.bool_) and stop:
                raise StopTraining("Stopped by the callback.")

        applies = self.score is not None or self.train_loss_rule
        if applies and self.no_improvement > s.n_iter_no_change:
            if self.reduce_step is not None and self.reduce_step():
                self.no_improvement = 0
                if s.verbose:
                    print("Setting learning rate to a fifth of its value.")
                return
            what = "Validation score" if self.score is not None else "Training loss"
            raise StopTraining(
                f"{what} did not improve more than tol={s.tol:f} for "
                f"{s.n_iter_no_change} consecutive iterations",
                rule=True,
            )
        if self.limit is not None and self.n_iter >= self.limit:
            raise IterationLimit


def divergence_message(
    advice, loss, n_iter, kept_loss, what=_LOSS, kept=None, penalty=False
):
    """The warning of a run whose loss (or gradient...) became non-finite.

    ``advice`` is the solver's first suggestion; ``what`` says what became
    non-finite, ``kept`` which parameters were kept (default: the last ones
    with a finite loss); ``penalty`` says the L2 penalty overflowed, not the
    network's outputs, so the advice is about ``alpha`` rather than the
    data.  Raises ValueError, as scikit-learn does, when not even the
    parameters kept have a finite cost: there is no model to return.
    """
    if not np.isfinite(kept_loss):
        if penalty:
            cause, remedy = (
                "the L2 penalty alpha / (2 S) ||W||^2 overflows",
                "Use a smaller alpha.",
            )
        else:
            cause, remedy = (
                "the network's outputs overflow on these data",
                "Scale the inputs (e.g. StandardScaler), and large regression targets.",
            )
        raise ValueError(
            f"The training loss is non-finite ({kept_loss}) at the starting "
            f"parameters: {cause}, so training could not start. {remedy}"
        )
    if penalty:
        advice = "a smaller alpha"
    else:
        advice = (
            f"{advice}, a larger alpha, or scaling the inputs (e.g. StandardScaler)"
        )
    return (
        f"{what} ({loss}) at iteration {n_iter}. Training stopped and "
        f"{kept or _LAST_FINITE} were kept. Try {advice}."
    )
