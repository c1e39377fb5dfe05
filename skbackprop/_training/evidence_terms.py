"""The evidence's terms at a fitted ``theta``: ``diag(P M^-1)`` summed over
each row of each weight matrix (for ``tr(P_g M^-1)``, summed over each
group) and ``log det M``.

Three ways, one interface (``terms(objective, theta)`` returns the row
sums, the log-determinant and the Cholesky factor of ``M`` or None):
:class:`Exact` from the dense ``M`` for networks of at most
:data:`EXACT_LIMIT` parameters; :class:`DataSpace`, exactly through an
``m n_L x m n_L`` matrix by Woodbury's identity
(:mod:`~skbackprop._engine.data_space`) when that costs less;
:class:`Stochastic`, estimated from Gauss-Newton products
(:mod:`~skbackprop._engine.hutchinson`).  :func:`choose_terms` picks the
one that costs least.
"""

import copy

import numpy as np

from skbackprop._engine import data_space, hutchinson, laplace

# Above this many parameters M is not formed (8 n_params^2 bytes: 200 MB)
# and its trace and log-determinant are estimated from N_PROBES probes,
# with conjugate gradients to CG_RTOL and LANCZOS_STEPS Lanczos steps.
# Accuracy and cost of both paths: benchmarks/bench_evidence.py.
EXACT_LIMIT = 5000
# With at most EXACT_LIMIT data (rows x outputs: its r x r matrices take at
# most 200 MB each), the exact data-space path, below EXACT_LIMIT parameters
# while it costs fewer multiply-adds (_data_space_cost against _dense_cost).
# The estimators keep the dense factor of M up to this many parameters (32
# MB) for the error bars of the whole network; after a data-space loop, its
# data-space form while that takes no more memory.
FACTOR_LIMIT = 2000
N_PROBES = 16
CG_RTOL = 1e-4
CG_MAXITER = 500
LANCZOS_STEPS = 500


def at_alpha(objective, alpha):
    """The same objective with the penalty ``alpha``."""
    objective = copy.copy(objective)
    objective.alpha = alpha
    return objective


class Exact:
    """``diag(P M^-1)`` summed over each row of each ``W(l)``, ``log det M``
    and ``L``, from the dense ``M``.

    ``epsilon`` (:func:`~skbackprop._engine.laplace.free_precision`) is set
    at the first call (unless given) and kept for the fit, so that the
    evidence of every outer iteration is that of the same prior.
    """

    def __init__(self, epsilon=None):
        self.epsilon = epsilon

    def __call__(self, objective, theta):
        L = self.factor(objective, theta)
        net = objective.net
        variances = laplace.weight_variances(L, net.n_coefs)
        return laplace.row_totals(net, variances), laplace.log_det(L), L

    def factor(self, objective, theta):
        """The Cholesky factor of ``M`` at ``theta``."""
        net = objective.net
        G = at_alpha(objective, 0.0).gauss_newton(theta)[2] * objective.weight_sum
        if self.epsilon is None:
            self.epsilon = laplace.free_precision(np.diag(G))
        M = laplace.precision(G, net.n_coefs, objective.alpha, self.epsilon)
        return laplace.factor(M)


class DataSpace:
    """The same, exactly, through an ``m n_L x m n_L`` matrix (Woodbury's
    identity, from the Jacobian's factors:
    :mod:`~skbackprop._engine.data_space`): for networks with more
    parameters than data."""

    epsilon = None

    def __call__(self, objective, theta):
        net = objective.net
        signals = _signals(objective, theta)
        if self.epsilon is None:
            mean = signals.curvature_mean(net.n_params)
            self.epsilon = laplace.free_precision(mean=mean)
        priors = data_space.row_priors(net, objective.alpha, self.epsilon)
        rows, log_det = data_space.terms(signals, priors, self.epsilon)
        return rows, log_det, None

    def posterior(self, objective, theta):
        """The whole network's posterior through the data space
        (:func:`~skbackprop._engine.data_space.posterior`), or None where
        it would take more memory than a dense factor of
        :data:`FACTOR_LIMIT` parameters."""
        net = objective.net
        r = _data_rows(objective)
        if (net.n_params + r) * r > FACTOR_LIMIT**2:
            return None
        a = laplace.prior_diagonal(
            net.n_params, net.n_coefs, objective.alpha, self.epsilon
        )
        return data_space.posterior(net, _signals(objective, theta), a)


def _signals(objective, theta):
    """The Jacobian's factors (:class:`~skbackprop._engine.data_space.Signals`)
    of ``objective``'s rows at ``theta``."""
    net = objective.net
    return data_space.Signals(
        net, net.as_theta(theta), objective.X, objective.Y, objective.sample_weight
    )


def choose_terms(objective, rng):
    """The terms of :func:`_path` for ``objective`` (the stochastic ones
    draw their probes from ``rng``)."""
    path = _path(objective)
    return path(rng, objective.net.n_params) if path is Stochastic else path()


def exact(objective):
    """Whether the loop's terms are exact for ``objective`` (not
    :class:`Stochastic`'s estimates): ``alpha="auto"`` uses the evidence
    only then."""
    return _path(objective) is not Stochastic


def _path(objective):
    """The exact path that costs least: through the ``r x r`` matrix of the
    data space (``r`` rows times outputs, one output fewer for softmax,
    whose curvature has a null direction) while it costs fewer
    multiply-adds than the dense ``M`` (:func:`_data_space_cost`) and ``r``
    is at most :data:`EXACT_LIMIT`; else the dense ``M`` up to
    :data:`EXACT_LIMIT` parameters; else the stochastic estimates."""
    net = objective.net
    m = objective.X.shape[0]
    r = _data_rows(objective)
    fits = r <= EXACT_LIMIT
    if fits and _data_space_cost(net, m, r) < _dense_cost(r, net.n_params):
        return DataSpace
    if net.n_params <= EXACT_LIMIT:
        return Exact
    if fits:
        return DataSpace
    return Stochastic


def _data_rows(objective):
    net = objective.net
    n_out = net.layer_sizes[-1]
    softmax = net.loss.out_activation == "softmax" and n_out > 1
    return objective.X.shape[0] * (n_out - softmax)


def _data_space_cost(net, m, r):
    """Per layer, the symmetric updates of the signals (``r^2 n_l / 2``) and
    of the inputs (``m^2 n_{l-1} / 2``) for ``K`` and their products again
    for the traces (``r^2 n_l`` and ``m^2 n_{l-1}``); ``K``'s Cholesky
    factor and inverse, ``r^3``, counted as ``1.4 r^3``: with the ``r x r``
    elementwise products, the path ran that much slower per multiply-add
    than the dense one (measured from 142 to 1,227 rows of 100 units)."""
    sizes = net.layer_sizes
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    layers = sum(1.5 * r**2 * b + 1.5 * m**2 * a for a, b in pairs)
    return layers + 1.4 * r**3


def _dense_cost(r, n_params):
    """``G`` by a symmetric update, its Cholesky factor and triangular
    inverse: ``r n^2 / 2 + 2 n^3 / 3``."""
    return r * n_params**2 / 2 + 2 * n_params**3 / 3


class Stochastic:
    """The same estimated from Gauss-Newton products (``M`` never formed).

    Preconditioned by ``C = diag(M)``
    (:func:`~skbackprop._engine.laplace.gauss_newton_diagonal`).  The probes
    are drawn once per fit, so that the estimates are a smooth function of ``theta`` and
    ``alpha`` and the outer loop can settle.
    """

    epsilon = None

    def __init__(self, rng, n):
        self.probes = hutchinson.rademacher(rng, N_PROBES, n)

    def __call__(self, objective, theta):
        net, S, alpha = objective.net, objective.weight_sum, objective.alpha
        d = laplace.gauss_newton_diagonal(
            net, net.as_theta(theta), objective.X, objective.Y, objective.sample_weight
        )
        if self.epsilon is None:
            self.epsilon = laplace.free_precision(d)
        free = self.epsilon * laplace.free_entries(net.n_params, net.n_coefs, alpha)
        mask = (np.arange(net.n_params) < net.n_coefs).astype(np.float64)
        C = d + laplace.prior_diagonal(net.n_params, net.n_coefs, alpha, self.epsilon)
        scale = 1 / np.sqrt(C)

        def matvec(v):
            v = scale * v
            Mv = S * np.asarray(objective.hessp(theta, v, "gauss-newton"), float)
            return scale * (Mv + free * v)

        diagonal, log_det, _ = hutchinson.diagonal_and_log_det(
            matvec, scale, self.probes, mask, CG_RTOL, CG_MAXITER, LANCZOS_STEPS
        )
        return laplace.row_totals(net, diagonal[: net.n_coefs]), log_det, None
