"""Gradient descent: the update and the epoch loop.

:class:`GradientDescent` is one update ``theta <- theta - eta D`` with
optional momentum and a step-size schedule; the registered solver ``"gd"``
runs the epochs,
full batch or mini-batch, with the stopping rules of :class:`Progress`,
projecting every step onto ``settings.bounds`` when set.
"""

import copy

import numpy as np

from skbackprop._training.bounds import project
from skbackprop._training.guard import check_finite_gradient
from skbackprop._training.progress import Diverged
from skbackprop._training.solvers import ITERATION_LIMIT, Outcome, Solver, register


class GradientDescent:
    """Plain gradient descent with optional momentum, one update at a time.

    The update is the steepest-descent step ``theta <- theta - eta D`` of
    backpropagation; with momentum ``mu`` the velocity
    ``v <- mu v - eta D`` is added instead (and, for Nesterov,
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


class GradientDescentSolver(Solver):
    """``solver="gd"``: full batch or mini-batch, with momentum and schedules."""

    name = "gd"
    doc = (
        "gradient descent ``theta <- theta - eta D``, full batch by default, "
        "mini-batch when ``batch_size`` is set."
    )
    bounds = True  # by projection
    incremental = True
    mini_batch = True
    evidence = True
    options = False
    loss_rule = True
    # No BLAS calls between its evaluations.
    between = False

    def check(self, objective, settings):
        super().check(objective, settings)
        if settings.solver_options:
            raise ValueError(
                "solver_options are passed to SciPy's minimize and do not apply "
                "to solver='gd'; use learning_rate_init, momentum, batch_size."
            )

    def advice(self, settings):
        return f"a smaller learning_rate_init (now {settings.learning_rate_init:g})"

    def averages_loss(self, objective, settings):
        # Mini-batch epochs record the average of their batches' losses, as
        # scikit-learn's stochastic solvers do; a full batch, the cost.
        batch = settings.batch_size
        return batch is not None and batch < objective.n_samples

    def convergence_warning(self, n_iter, message, scaled=False):
        return message

    def diagnostics(self, progress, loss, settings):
        # A step size too large can blow the loss up without overflowing;
        # the fit then stops for lack of improvement with useless weights.
        # More than doubling the starting loss is divergence, not mini-batch
        # noise.
        start = progress.info.get("start_loss", np.inf)
        if settings.incremental or not loss > 2 * start + settings.tol:
            return []
        return [
            f"The training loss rose from {start:.6g} to {loss:.6g} during "
            "gradient descent: the steps are too large. Try a smaller "
            f"learning_rate_init (now {settings.learning_rate_init:g}), or "
            "scaling the inputs (e.g. StandardScaler)."
        ]

    def run(self, objective, theta, progress, settings, state, rng):
        return _descend(objective, theta, progress, settings, state, rng)


register(GradientDescentSolver())


def _descend(objective, theta, progress, settings, optimizer, rng):
    """Gradient descent on ``objective`` from ``theta`` (updated in place).

    ``optimizer``: the state of the previous descent, None to start afresh.
    ``partial_fit`` continues it (stepped as a copy, so that a failing call
    leaves it intact); a warm-started fit keeps only its step count ``t``.
    """
    s = settings
    if optimizer is not None and s.incremental:
        optimizer = copy.deepcopy(optimizer)
    else:
        previous = optimizer
        optimizer = GradientDescent(
            s.learning_rate_init,
            s.learning_rate,
            s.power_t,
            s.momentum,
            s.nesterovs_momentum,
        )
        if previous is not None:
            # A warm start, as scikit-learn's: velocity and step size start
            # afresh, the schedule's step count goes on.
            optimizer.t = previous.t
    progress.reduce_step = optimizer.reduce
    progress.state = optimizer
    S = objective.weight_sum
    batch = s.batch_size
    full_batch = batch is None or batch >= objective.n_samples
    epochs = 1 if s.incremental else s.max_iter

    def step(J, D):
        if not np.isfinite(J):
            raise Diverged(J, theta=theta.copy())
        # One sum, without a boolean array per step (and without the warning
        # a sum of +inf and -inf gives).
        check_finite_gradient(J, D, theta.copy())
        optimizer.update(theta, D)
        if s.bounds is not None:
            project(theta, s.bounds)

    # The cost at the starting parameters: a fit that ends far above it has
    # diverged (see diagnostics).  Full-batch descent steps from it;
    # mini-batch descent estimates it by its first batch, which costs no
    # extra pass over the data.
    if full_batch:
        J, D = objective.cost_grad(theta)
        progress.info["start_loss"] = J
    for _ in range(epochs):
        if full_batch:
            step(J, D)
            # Record the cost at the parameters the step produced, as the
            # SciPy solvers do: loss_curve_, loss_ and the callback's
            # (fun, x) then describe the same point.
            J, D = objective.cost_grad(theta)
            progress.memo = (theta.copy(), J)
            epoch_loss = J
        else:
            epoch_loss = 0.0
            for rows in objective.batches(batch, s.shuffle, rng):
                J, D, S_b = objective.cost_grad_rows(theta, rows)
                if J is not None:
                    progress.info.setdefault("start_loss", J)
                    step(J, D)
                    epoch_loss += J * S_b / S
        progress(theta, epoch_loss)
    outcome = Outcome(theta=theta, state=optimizer)
    if not s.incremental:
        outcome.status = ITERATION_LIMIT
        outcome.message = (
            f"Gradient descent: maximum iterations ({s.max_iter}) reached and "
            "the optimization hasn't converged yet."
        )
    return outcome
