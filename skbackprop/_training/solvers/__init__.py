"""Solvers as registered objects.

A :class:`Solver` declares what it supports (box constraints, incremental
fitting, Dask data, mini-batches, curvature products, the loss's curvature,
the evidence's inner runs) and runs on an objective:
``run(objective, theta, progress, settings, state, rng)`` minimizes from
``theta`` and returns an :class:`Outcome` when it ends by itself
(converged, a limit of its own, a failure it reports).  Everything else
that ends a run, the callback or early stopping (:class:`StopTraining`),
an interruption (``KeyboardInterrupt``), a non-finite number
(:class:`Diverged`) and the iteration limit of :class:`Progress`
(:class:`IterationLimit`), is raised through it and handled in one place,
:func:`skbackprop._training.solve.train`, which also chooses the
parameters kept, computes the loss there and gives the warnings.

Each module of this package registers its solvers (:func:`register`), and
they are imported once, here: a new solver is one object in one module.
The estimators' parameter validation, error messages, thread policy and
documentation read the registry.
"""

import importlib
import numbers
import pkgutil
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult

# How a run ended: Outcome.status.
CONVERGED = "converged"
ITERATION_LIMIT = "iteration limit"
EVALUATION_LIMIT = "evaluation limit"
FAILED = "not converged"  # the solver says so, not at a limit of ours
STOPPED = "stopped"  # the callback or early stopping
INTERRUPTED = "interrupted"
DIVERGED = "diverged"


@dataclass
class Outcome:
    """How a run ended.

    ``theta``: where the solver ended (None: at the last iterate
    :class:`Progress` recorded); ``status``: one of the constants above;
    ``message``: the solver's own words; ``result``: SciPy's
    ``OptimizeResult`` or the solver's record of the same shape (None for
    gradient descent); ``state``: what a continued fit starts from (the
    gradient-descent optimizer); ``warnings``: ``(message, category)``
    pairs of the solver's own diagnostics; ``diverged``: what became
    non-finite (:class:`Diverged`), with ``at`` its iteration.
    """

    theta: Any = None
    status: str = CONVERGED
    message: str = ""
    result: Any = None
    state: Any = None
    warnings: list = field(default_factory=list)
    diverged: Any = None
    at: int | None = None


def scale_advice(scaled):
    """The end of a convergence warning's advice: to scale the inputs,
    unless they are known to be scaled."""
    return "" if scaled else " or scale the inputs (e.g. StandardScaler)"


class Solver:
    """A training method and what it supports.

    Attributes
    ----------
    name : str
        The name the estimators' ``solver`` parameter takes.
    bounds : bool
        Keeps every iterate inside box constraints (``monotonic_cst``).
    incremental : bool
        Runs one epoch at a time on the same state (``partial_fit``).
    dask : bool
        Runs on a Dask objective (full-batch evaluations summed over blocks).
    mini_batch : bool
        Honours ``batch_size``.
    hessp : bool
        Uses curvature products ``H v`` (the ``curvature`` parameter applies).
    curvature : bool
        Needs the loss's curvature (Hessian products or the Gauss-Newton
        matrix): a loss without one is refused.
    evidence : bool
        May run inside ``alpha="evidence"``'s loop.
    options : bool
        Takes ``solver_options``.
    loss_rule : bool
        Stops when the training loss stops improving by ``tol`` for
        ``n_iter_no_change`` iterations (as scikit-learn's stochastic
        solvers).
    between : bool
        Makes BLAS calls of its own between evaluations (the thread policy).
    """

    name: str = ""
    # The solver's entry in the estimators' documentation of ``solver``.
    doc = ""
    bounds = False
    incremental = False
    dask = True
    mini_batch = False
    hessp = False
    curvature = False
    evidence = True
    options = True
    loss_rule = False
    between = True

    def run(self, objective, theta, progress, settings, state, rng):
        """Minimize ``objective`` from ``theta``; return an :class:`Outcome`.

        Report every accepted iterate to ``progress(theta, loss)``.
        ``state`` is what :attr:`Outcome.state` held after the previous run
        (continued fits), or None; ``rng`` draws mini-batches.
        """
        raise NotImplementedError

    def cost(self, objective, theta, progress):
        """The cost ``J`` at ``theta``: the solver's own last evaluation if
        it was there (``progress.memo``, a pair stored in one step, so never
        half updated), else evaluated as this solver evaluates it (so that
        ``loss_`` rounds as the loss curve does)."""
        memo = progress.memo
        if memo is not None and np.array_equal(memo[0], theta):
            return memo[1]
        return self.evaluate(objective, theta)

    def evaluate(self, objective, theta):
        """A fresh evaluation of the cost at ``theta``."""
        return objective.cost_grad(theta)[0]

    def averages_loss(self, objective, settings):
        """Whether the losses reported to :class:`Progress` are averages over
        the mini-batches of an epoch rather than the cost at the parameters
        (then ``loss_`` is the last of them, as in scikit-learn)."""
        return False

    def diagnostics(self, progress, loss, settings):
        """Warnings about a run that ended with ``loss``, however it ended
        (``progress.info`` holds what the solver noted); none by default."""
        return []

    def convergence_warning(self, n_iter, message, scaled=False):
        """The warning of a run that ended unconverged, after ``n_iter``
        iterations with the solver's ``message``; ``scaled``: whether the
        inputs are known to be on a unit scale (no advice to scale them)."""
        return (
            f"{self.describe()} did not converge after {n_iter} iteration(s): "
            f"{message} Increase max_iter{scale_advice(scaled)}."
        )

    def check(self, objective, settings):
        """Refuse, with a ValueError, settings or data this solver cannot
        run, before any iteration: by default, a loss without the curvature
        the solver needs."""
        loss = objective.net.loss
        if self.curvature and not loss.curvature:
            usable = names(lambda s: not s.curvature and s.name != "Nelder-Mead")
            raise ValueError(
                f"solver={self.describe()!r} needs the loss's curvature, and "
                f"loss={loss.name!r} has none (its Hessian is zero almost "
                f"everywhere). Use a first-order solver: one of {usable}."
            )

    def describe(self):
        """The solver's name in messages."""
        return self.name

    def cut_result(self, status, theta, loss, progress):
        """The record (``optimize_result_``) of a run the handler ended
        (``status``: stopped, interrupted, a limit, diverged) at ``theta``
        with cost ``loss``; None by default."""
        return None

    def advice(self, settings):
        """What to try when a run diverges (the warning's first suggestion)."""
        return "another solver"

    def __repr__(self):
        return f"<solver {self.name!r}>"


class CountingSolver(Solver):
    """A solver that keeps its counts in ``progress.info`` (``nit``,
    ``nfev``, ...) and records a cut run as SciPy's methods record theirs:
    status 4 when it diverged (``diverged_text`` says what became
    non-finite), 3 when it was stopped or interrupted."""

    diverged_text = "The cost or the gradient became non-finite."

    def cut_result(self, status, theta, loss, progress):
        code, message = {
            DIVERGED: (4, self.diverged_text),
            INTERRUPTED: (3, "Interrupted by the user."),
        }.get(status, (3, "Stopped by the callback or early stopping."))
        return OptimizeResult(
            x=theta,
            fun=loss,
            **progress.info,
            status=code,
            success=False,
            message=message,
        )


def check_option_names(solver, given, defaults):
    """Refuse ``solver_options`` keys that are not ``solver``'s options."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"solver_options {unknown} are not options of solver={solver!r}; it "
            f"accepts {sorted(defaults)}."
        )


def real_option(name, value, minimum=None):
    """``solver_options[name]`` as a float: a finite real number, positive
    (or at least ``minimum``); booleans are refused."""
    low = 0.0 if minimum is None else minimum
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool | np.bool_)
        or not np.isfinite(value)
        or (value <= low if minimum is None else value < low)
    ):
        wanted = (
            "a positive finite number"
            if minimum is None
            else f"a finite number of at least {minimum:g}"
        )
        raise ValueError(f"solver_options[{name!r}] must be {wanted}, got {value!r}.")
    return float(value)


SOLVERS: dict[str, Solver] = {}
# Other spellings accepted for a solver: lower-case names of SciPy's
# methods, scikit-learn's "lbfgs".
ALIASES: dict[str, str] = {}


def register(solver, aliases=()):
    """Make ``solver`` (a :class:`Solver`) the one of its name."""
    if solver.name in SOLVERS:
        raise ValueError(f"A solver named {solver.name!r} is already registered.")
    SOLVERS[solver.name] = solver
    for alias in aliases:
        ALIASES[alias] = solver.name
    return solver


def get_solver(solver):
    """The registered solver of a name (or an alias), or None."""
    if not isinstance(solver, str):
        return None
    return SOLVERS.get(ALIASES.get(solver, solver))


def resolve(solver):
    """The :class:`Solver` of an estimator's ``solver`` value: a registered
    name or alias, or a callable minimizer in SciPy's custom-method
    protocol; None for anything else."""
    if callable(solver):
        return _CUSTOM[0](solver)
    return get_solver(solver)


# The solver of a callable minimizer, set by the module that defines it.
_CUSTOM: list = [None]


def register_custom(factory):
    """Make ``factory(minimizer)`` the solver of callable minimizers."""
    _CUSTOM[0] = factory
    return factory


def describe(indent=8):
    """numpydoc bullets of the registered solvers that document themselves
    (``doc``): SciPy's methods are described together by the estimators."""
    pad = " " * indent
    return "\n".join(
        textwrap.fill(
            f'``"{name}"``: {solver.doc}',
            width=79,
            initial_indent=pad + "- ",
            subsequent_indent=pad + "  ",
            break_on_hyphens=False,
        )
        for name, solver in sorted(SOLVERS.items())
        if solver.doc
    )


def names(where=None):
    """The registered names, sorted case-insensitively; with ``where``, only
    those of the solvers for which ``where(solver)`` is true."""
    chosen = (n for n, s in SOLVERS.items() if where is None or where(s))
    return sorted(chosen, key=str.lower)


def _discover():
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_discover()
