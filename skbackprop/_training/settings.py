"""What a training run is told, and what it hands back."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skbackprop._training.solvers import Solver, resolve


@dataclass
class Settings:
    """A training run's settings: plain values, no estimator.

    ``solver`` is a :class:`~skbackprop._training.solvers.Solver` (a
    registered one, or a callable minimizer's).  The other
    fields have the meaning of the estimators' parameters of the same names;
    ``incremental`` runs one epoch of gradient descent (``partial_fit``);
    ``bounds``, None or ``(lower, upper)`` per parameter, keeps every
    iterate inside a box (see :mod:`~skbackprop._training.bounds`).
    ``evidence`` re-estimates the penalty by the evidence
    (``alpha="evidence"``, :mod:`~skbackprop._training.evidence`), with
    ``ard`` one penalty per input and per later layer (``alpha="ard"``).
    """

    solver: Any = "L-BFGS-B"
    max_iter: int = 200
    max_fun: int = 15000
    tol: float = 1e-4
    n_iter_no_change: float = 10
    verbose: bool | int = False
    callback: Callable | None = None
    solver_options: dict | None = None
    curvature: str = "exact"
    batch_size: int | None = None
    shuffle: bool = True
    learning_rate: str = "constant"
    learning_rate_init: float = 0.05
    power_t: float = 0.5
    momentum: float = 0.0
    nesterovs_momentum: bool = False
    incremental: bool = False
    bounds: tuple | None = None
    evidence: bool = False
    ard: bool = False

    def __post_init__(self):
        if not isinstance(self.solver, Solver):
            # A name, an alias or a callable minimizer.
            solver = resolve(self.solver)
            if solver is None:
                raise ValueError(f"Unknown solver {self.solver!r}.")
            self.solver = solver


@dataclass
class Result:
    """What a training run returns; the estimator turns it into attributes.

    ``loss`` is the cost ``J`` at ``theta``; ``optimizer`` is the gradient
    descent's state (None for the other solvers), for ``partial_fit`` to
    continue from.  With ``alpha="evidence"``, ``alpha`` (an array of the
    groups' penalties for ``alpha="ard"``), ``gamma`` (the
    well-determined weights), ``noise_variance`` (squared error),
    ``evidence_curve`` and ``factor`` (the Cholesky factor of the posterior
    precision over ``beta``, or its data-space form, a dict, when formed)
    describe the fitted posterior.
    """

    theta: np.ndarray
    loss: float
    n_iter: int
    loss_curve: list = field(default_factory=list)
    best_loss: float | None = None
    validation_scores: list | None = None
    best_validation_score: float | None = None
    optimize_result: Any = None
    optimizer: Any = None
    status: str = "converged"
    warnings: list = field(default_factory=list)
    unconverged: str | None = None
    alpha: float | np.ndarray | None = None
    gamma: float | None = None
    noise_variance: float | None = None
    evidence_curve: list | None = None
    factor: np.ndarray | dict | None = None
