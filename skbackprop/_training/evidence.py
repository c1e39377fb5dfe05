"""MacKay's evidence framework: the penalty set by the data, ``alpha="evidence"``.

The model of MacKay (1992) in the Gauss-Newton form of Foresee & Hagan
(1997): a Gaussian prior of precision ``alpha_w`` on the weights ``W`` (the
biases, unpenalized in the fit, a broad one) and, for squared error,
Gaussian noise of precision ``beta``.  The posterior's negative log is
``beta E_D + alpha_w E_W``, with::

    E_D = 1/2 sum_i s_i ||a_i - y_i||^2      (the loss sum for the other losses)
    E_W = 1/2 ||W||^2

which the package's cost ``J = (E_D + alpha E_W) / S`` minimizes with
``alpha = alpha_w / beta`` (``beta = 1`` for the log-losses and Poisson).
At the fitted ``theta`` the posterior precision is ``A = beta M``,
``M = G_D + alpha P + epsilon (I - P)``
(:mod:`~skbackprop._engine.laplace`); the number of
well-determined weights and the re-estimates that maximize the evidence
are::

    gamma   = n_W - alpha tr(P M^-1)
    alpha_w = gamma / (2 E_W)
    beta    = (N - gamma - n_b) / (2 E_D)          (squared error only)

with ``N = S * n_outputs`` data and ``n_b`` biases (counted as well
determined).  With ``alpha="ard"`` (automatic relevance determination,
MacKay 1995, Neal 1996) the weights fall into groups, those leaving each
input and those of each later layer, each with its own ``alpha_g``:
``gamma_g = n_g - alpha_g tr(P_g M^-1)`` and ``alpha_wg = gamma_g / (2
E_Wg)`` for each group ``g``, and ``alpha_w E_W`` and ``n_W log alpha_w``
below become their sums over the groups.  The inputs the data do not need
get a large ``alpha_g``: their weights are switched off.

The log evidence of the fitted ``alpha`` (at the ``beta`` just
re-estimated) is::

    log p(D | alpha_w, beta) = -beta E_D - alpha_w E_W - beta epsilon E_b
        - 1/2 log det A + n_W/2 log alpha_w + n_b/2 log(beta epsilon)
        + N/2 log beta - N/2 log 2 pi

with ``E_b = 1/2 ||b||^2`` and ``beta epsilon`` the precision of the biases'
broad prior (:mod:`~skbackprop._engine.laplace`); without the ``N`` terms
for the other losses, whose ``E_D`` is the negative log-likelihood
(Poisson's ``log y!`` included).

:func:`run_evidence` alternates a fit at fixed ``alpha`` (the inner solver
the settings name, warm-started) with these re-estimates until ``alpha``,
``beta`` and ``gamma`` settle, or until the log evidence stops rising (it
then keeps the best fit).  ``tr(P M^-1)`` and ``log det M`` come from
:mod:`~skbackprop._training.evidence_terms`.
"""

import dataclasses
from typing import NamedTuple

import numpy as np

from skbackprop._training.evidence_terms import (
    DataSpace,
    at_alpha,
    choose_terms,
)
from skbackprop._training.objective import for_penalties
from skbackprop._training.progress import warn
from skbackprop._training.solvers import INTERRUPTED, STOPPED

# alpha, beta (relative) and gamma (relative to max(gamma, 1)) settle when
# they change by at most TOL between outer iterations; by at most ARD_TOL
# with several groups, whose inner runs are cut at ARD_STEPS, so that their
# re-estimates jitter by a few percent (see _settled).
TOL = 1e-2
ARD_TOL = 5e-2
MAX_ITER = 50
# The loop also ends when PATIENCE outer iterations in a row did not raise
# the best log evidence so far by more than EVIDENCE_TOL nats (a Bayes factor
# of e), and keeps the fit of the best: the re-estimates then change the
# model's support by the data too little to pay for another run, or jitter
# around their fixed point (the inner runs are cut short, and nearly
# separable classes keep growing their weights).
EVIDENCE_TOL = 1.0
PATIENCE = 5
# alpha="ard" re-estimates after at most ARD_STEPS iterations of the inner
# solver, as trainbr re-estimates after each step.  Its loop takes 10 to 30
# re-estimations (the groups' alphas drift as inputs are switched off):
# refitting to convergence each time took 10 times as long on Friedman #1
# for a worse test error (benchmarks/results/evidence.md); a last full run
# at the final alphas, tried on the same data, made the test errors no
# better.  Fewer steps between re-estimations cost fewer iterations for
# about as many re-estimations (see the user guide's ARD section).
ARD_STEPS = 25

# A fit whose outputs vary by at most this share of the targets' spread
# explains at most CONSTANT^2 of their variance: the evidence switched the
# inputs off, and the fit says so.
CONSTANT = 1e-2

# The re-estimated alpha stays within these bounds (a constant target, whose
# weights all vanish, would send it to infinity).
ALPHA_BOUNDS = (1e-12, 1e12)


class Estimate(NamedTuple):
    """One re-estimation at a fitted ``theta`` (fitted with ``alpha``, one
    per group, as ``gammas``, ``next_alpha`` and ``sizes``, the groups'
    numbers of weights, None for unknown; ``gamma`` is their sum)."""

    alpha: np.ndarray
    beta: float
    gamma: float
    log_evidence: float
    next_alpha: np.ndarray
    factor: np.ndarray | None
    gammas: np.ndarray
    sizes: np.ndarray | None = None


class Groups:
    """The weights' groups, each with its own ``alpha``.

    One group of all the weights, or with ``ard`` one per input (its
    weights to the first layer: a row of ``W(1)``, contiguous in ``theta``)
    and one per later layer: ``n_0 + L - 1`` groups.
    """

    def __init__(self, net, ard=False):
        sizes = net.layer_sizes
        if ard:
            parts = [np.repeat(np.arange(sizes[0]), sizes[1])]
            for layer, (a, b) in enumerate(zip(sizes[1:-1], sizes[2:], strict=True)):
                parts.append(np.full(a * b, sizes[0] + layer))
            self.index = np.concatenate(parts)
            self.n = sizes[0] + len(sizes) - 2
        else:
            self.index, self.n = np.zeros(net.n_coefs, np.intp), 1
        self.sizes = self.sums(np.ones(net.n_coefs))
        # Where each group starts: one entry of a per-weight alpha per group.
        self.first = np.searchsorted(self.index, np.arange(self.n))
        # The group of each row of each W(l): a row is in one group.
        starts = [lo + np.arange(rows) * n for lo, _, (rows, n) in net._coef_slices]
        self.row_index = self.index[np.concatenate(starts)]

    def sums(self, values):
        """The sum of ``values`` (one per weight) over each group."""
        return np.bincount(self.index, weights=values, minlength=self.n)

    def row_sums(self, values):
        """The sum of ``values`` (one per row of each ``W(l)``) over each group."""
        return np.bincount(self.row_index, weights=values, minlength=self.n)

    def expand(self, alpha):
        """The objective's ``alpha``: a float for one group, else one per
        weight."""
        return float(alpha[0]) if self.n == 1 else np.asarray(alpha)[self.index]

    def collapse(self, alpha):
        """The groups' ``alpha`` from the objective's."""
        if np.ndim(alpha):
            return np.asarray(alpha, np.float64)[self.first]
        return np.full(self.n, float(alpha))


def gaussian(net):
    """Whether the likelihood has a noise precision (squared error)."""
    return net.loss.likelihood == "gaussian"


def start_alpha(objective):
    """The first ``alpha``: weights of unit prior variance (``alpha_w = 1``)
    and, for squared error, all of the targets' variance taken as noise
    (``1 / beta = var(y)``, averaged over the outputs)."""
    if not gaussian(objective.net):
        return 1.0
    var = float(np.mean(_variances(objective.Y, objective.sample_weight)))
    return float(np.clip(var, *ALPHA_BOUNDS)) if var > 0 else 1.0


def reestimate(objective, theta, terms, constant=0.0, groups=None):
    """gamma, beta, the log evidence and the next alpha at ``theta``.

    ``objective.alpha`` is the penalty ``theta`` was fitted with (one per
    weight for several ``groups``, :class:`Groups`; default one group);
    ``constant`` is added to the loss sum to make it the negative
    log-likelihood (Poisson).  ``S``, ``E_D``, ``G_D``, ``M``, ``epsilon``
    and ``objective.alpha`` are the user's divided by ``c = objective.scale``,
    multiplied back where the evidence counts the weights."""
    net, S, c = objective.net, objective.weight_sum, objective.scale
    groups = Groups(net) if groups is None else groups
    fitted = groups.collapse(objective.alpha)  # alpha / c
    alpha, sizes = fitted * c, groups.sizes
    n_W, n_b = net.n_coefs, net.n_params - net.n_coefs
    rows, log_det_M, L = terms(objective, theta)
    gammas = np.clip(sizes - fitted * groups.row_sums(rows), 0.0, sizes)
    gamma = float(gammas.sum())
    E_D = float(at_alpha(objective, 0.0).cost(theta)) * S
    theta = np.asarray(theta, np.float64)
    E_W = 0.5 * groups.sums(theta[:n_W] ** 2)
    E_b = 0.5 * float(theta[n_W:] @ theta[n_W:])
    tiny = np.finfo(float).tiny
    if gaussian(net):
        N = S * net.layer_sizes[-1]
        beta = max(N - (gamma + n_b) / c, 1.0 / c) / max(2.0 * E_D, tiny)
        data = 0.5 * N * (np.log(beta) - np.log(2 * np.pi)) - beta * (E_D + constant)
    else:
        beta, data = 1.0, -(E_D + constant)
    epsilon, log_c = terms.epsilon * beta, np.log(c)  # the biases' precision / c
    with np.errstate(over="ignore"):
        # c * data is beyond float64 for some 1e308 rows (as counts).
        log_evidence = float(
            c * (data - epsilon * E_b)
            - beta * float(alpha @ E_W)
            - 0.5 * (net.n_params * (np.log(beta) + log_c) + log_det_M)
            + 0.5 * float(sizes @ np.log(np.maximum(alpha * beta, tiny)))
            + 0.5 * n_b * (np.log(epsilon) + log_c)
        )
    next_alpha = gammas / np.maximum(2.0 * E_W, tiny) / beta
    next_alpha = np.clip(next_alpha, *ALPHA_BOUNDS)
    return Estimate(alpha, beta, gamma, log_evidence, next_alpha, L, gammas, sizes)


def _capacity(new):
    """What ``gamma_g`` is measured against: the group's number of weights, or
    ``gamma`` (at least 1) if smaller; ``gamma`` alone would not scale with
    the number of groups (120 inputs: each group under 1% of ``gamma``)."""
    cap = max(new.gamma, 1.0)
    return cap if new.sizes is None else np.minimum(new.sizes, cap)


def _off(new):
    """The groups switched off: ``gamma_g <= TOL`` times :func:`_capacity`,
    at most a hundredth of its weights well determined.

    Their ``alpha`` is held, not re-estimated: the re-estimate would grow
    without bound as the weights shrink, and each larger ``alpha`` makes the
    next fit stiffer (L-BFGS-B took 300 to 500 iterations a fit at ``alpha =
    1e12``) for no change in the predictions.
    """
    return new.gammas <= TOL * _capacity(new)


def _best(curve):
    """The outer iteration whose fit the loop keeps, and how many came after
    it: the last that raised the best log evidence so far by more than
    :data:`EVIDENCE_TOL` (the first if none did)."""
    best, kept = -np.inf, 0
    for k, value in enumerate(curve):
        if value > best + EVIDENCE_TOL:
            best, kept = value, k
    return kept, len(curve) - 1 - kept


def _settled(new, old):
    """Whether every group's ``alpha`` settled, ``beta`` and ``gamma`` too.

    A group switched off (:func:`_off`: at most a hundredth of its weights
    well determined, held near 0 by a precision the data barely oppose)
    counts as settled.  With several groups (``alpha="ard"``) the inner
    runs are cut short, so the re-estimates keep jittering by a few percent
    (ReLU networks on the diabetes data: the loop ran into :data:`MAX_ITER`
    with every ``gamma_g`` steady to 0.1 of 27), for no change to the fit:
    ``alpha``, ``beta`` and ``gamma`` settle to :data:`ARD_TOL`, and a group
    whose ``gamma_g`` moved by at most ``TOL`` times :func:`_capacity` counts
    as settled: a ``gamma_g`` test at :data:`ARD_TOL` would stop while the
    penalties of noise inputs still climb (their ``gamma_g`` small and
    steady).  The user guide's ARD section has the measurements.
    """
    if old is None:
        return False
    tol = TOL if len(new.gammas) == 1 else ARD_TOL
    moved = np.abs(np.log(new.next_alpha / new.alpha)) > tol
    if len(new.gammas) > 1:
        moved &= np.abs(new.gammas - old.gammas) > TOL * _capacity(new)
    return (
        not np.any(moved & ~_off(new))
        and abs(np.log(new.beta / old.beta)) <= tol
        and abs(new.gamma - old.gamma) <= tol * max(old.gamma, 1.0)
    )


def _variances(V, sample_weight):
    """The weighted variance of each column of ``V`` (dense or sparse)."""
    V = np.asarray(V.todense() if hasattr(V, "todense") else V, np.float64)
    return np.average((V - np.average(V, 0, sample_weight)) ** 2, 0, sample_weight)


def _constant(objective, theta):
    """Whether the fitted outputs vary over the training rows by at most
    :data:`CONSTANT` of the targets' (weighted) standard deviation, in every
    output whose targets vary."""
    sw = objective.sample_weight
    target = np.sqrt(_variances(objective.Y, sw))
    varies = target > 0
    if not np.any(varies):
        return False  # a constant target: a constant model is right
    A = objective.net.forward(theta, objective.X)
    return bool(np.all(np.sqrt(_variances(A, sw))[varies] <= CONSTANT * target[varies]))


def _text(alpha):
    """The groups' ``alpha`` for messages: one number, or the range."""
    if len(alpha) == 1:
        return f"{alpha[0]:.6g}"
    return f"{np.min(alpha):.6g} to {np.max(alpha):.6g} ({len(alpha)} groups)"


def check_loss(loss, settings):
    """Refuse a loss the evidence cannot serve: without a likelihood (its
    noise model) or a curvature (the posterior's), or a solver that cannot
    run inside the loop."""
    if loss.likelihood is None or not loss.curvature:
        raise ValueError(
            f"alpha='evidence' and alpha='ard' need a loss that is a negative "
            f"log-likelihood with a curvature; loss={loss.name!r} is not. Use a "
            "float alpha (e.g. chosen by GridSearchCV)."
        )
    if not settings.solver.evidence:
        raise ValueError(
            f"alpha='evidence' and alpha='ard' do not run with "
            f"solver={settings.solver.describe()!r}."
        )


def run_evidence(objective, theta, settings, rng, fit):
    """Fit with ``alpha`` re-estimated by the evidence until it settles.

    ``fit(objective, theta, settings, rng, emit=False)`` is one run of the
    inner solver (:func:`~skbackprop._training.solve.train`), called with
    ``settings.evidence`` off.  Each outer iteration warm-starts it from the
    previous one's parameters.  The loop ends when the re-estimates settle
    (the last fit is kept), when the log evidence stopped rising
    (:func:`_best`'s fit is kept, as early stopping keeps its best epoch),
    or with an inner run stopped by the callback or interrupted (the last
    is kept).  The kept inner run's warnings are given.  Returns the
    :class:`~skbackprop._training.settings.Result` of the whole
    run: iterations, loss curve and evidence curve over all the inner runs,
    and the kept fit's parameters, loss, ``alpha``, ``gamma``, noise
    variance and the posterior: the Cholesky factor of ``M`` (dense path),
    or the data-space form of :meth:`DataSpace.posterior` (data-space
    path; squared error).
    """
    net = objective.net
    check_loss(net.loss, settings)
    # Its alphas per unit weight representable (the weights rescaled).
    objective = for_penalties(objective, *ALPHA_BOUNDS)
    inner = full = dataclasses.replace(settings, evidence=False, ard=False)
    if settings.ard:
        inner = dataclasses.replace(full, max_iter=min(full.max_iter, ARD_STEPS))
    terms = choose_terms(objective, rng)
    constant = net.loss.log_likelihood_constant(objective.Y, objective.sample_weight)
    groups = Groups(net, settings.ard)
    alpha = np.full(groups.n, start_alpha(objective))
    scale = objective.scale
    n_iter, loss_curve, curve, old = 0, [], [], None
    with objective.threads(None):
        for _ in range(MAX_ITER):
            # The objective's weights were divided by scale: so is its alpha.
            fitted = at_alpha(objective, groups.expand(alpha / scale))
            result = fit(fitted, theta, inner, rng, emit=False)
            theta = result.theta
            n_iter += result.n_iter
            loss_curve += result.loss_curve
            if settings.verbose:
                print(f"Evidence: alpha = {_text(alpha)}")
            new = reestimate(fitted, theta, terms, constant, groups)
            curve.append(new.log_evidence)
            if settings.verbose:
                print(
                    f"Evidence: gamma = {new.gamma:.4g}, log evidence = "
                    f"{new.log_evidence:.8g}, next alpha = {_text(new.next_alpha)}"
                )
            stale = _best(curve)[1]
            if not stale:  # this fit is the one to keep (so far)
                # A copy: the next inner run may update its start in place.
                best = (new, result, theta.copy())
            ended = result.status in (STOPPED, INTERRUPTED)
            settled = _settled(new, old)
            if settled or stale >= PATIENCE or ended:
                break
            old, alpha = new, np.where(_off(new), new.alpha, new.next_alpha)
        else:
            warn(
                f"The evidence did not settle in {MAX_ITER} re-estimations of "
                f"alpha: the fit is that of the best, {_text(best[0].alpha)}. "
                "Try another random_state, a smaller network or scaling the "
                "data."
            )
    if not (settled or ended):
        new, result, theta = best
        result = dataclasses.replace(result, theta=theta)
    for message, category in result.warnings:
        warn(message, category)
    # A run cut at ARD_STEPS did not fail to converge: the loop cut it.
    cut = inner is not full and result.n_iter >= inner.max_iter
    if result.unconverged and not cut:
        warn(result.unconverged)
    if _constant(objective, theta):
        warn(
            "The evidence switched off the inputs: the model predicts nearly a "
            "constant (its outputs vary by less than "
            f"{CONSTANT:g} of the targets' spread over the training rows). The "
            "inputs may not explain the targets; if they should, check that "
            "they are scaled.",
            UserWarning,
        )
    determined = new.gamma + net.n_params - net.n_coefs
    N = scale * objective.weight_sum * net.layer_sizes[-1]  # inf beyond float64
    if gaussian(net) and determined >= N:
        warn(
            f"The network has about {determined:.0f} well-determined parameters "
            f"for {N:.3g} data: the noise estimate is unreliable. Use a smaller "
            "network or more data."
        )
    factor = new.factor
    if factor is None and isinstance(terms, DataSpace) and gaussian(net):
        # The error bars (squared error only): the whole network's posterior
        # through the data space, formed once, at the end.
        fitted = at_alpha(objective, groups.expand(new.alpha / scale))
        factor = terms.posterior(fitted, theta)
    # The posterior of the user's M: the loop's is of M / scale.
    if isinstance(factor, dict):
        factor = {**factor, "scale": factor["scale"] / np.sqrt(scale)}
    elif factor is not None:
        factor = factor * np.sqrt(scale)
    return dataclasses.replace(
        result,
        n_iter=n_iter,
        loss_curve=loss_curve,
        alpha=float(new.alpha[0]) if groups.n == 1 else new.alpha,
        gamma=new.gamma,
        noise_variance=1.0 / new.beta if gaussian(net) else None,
        evidence_curve=curve,
        factor=factor,
    )
