"""Levenberg-Marquardt on the Gauss-Newton matrix: ``solver="lm"``.

Each iteration builds the Gauss-Newton matrix ``G`` and the gradient ``D``
at ``theta`` in one pass over the rows (:meth:`Objective.gauss_newton`) and
solves the damped system::

    (G + mu I) p = -D

by Cholesky.  The step is accepted when it lowers the cost ``J`` (one
forward pass, :meth:`Objective.cost`); ``mu`` then shrinks (towards the
Gauss-Newton step).  Otherwise ``mu`` grows (towards a short gradient step
``-D / mu``) and the system is solved again with the same ``G``.  The run
ends when ``mu`` exceeds ``mu_max`` (no damped step lowers ``J``: a minimum
to working precision), when ``max|D| <= tol``, or after ``max_iter``
iterations.  ``mu`` is in the units of ``G``, the curvature of the cost
averaged over the rows.

Two damping schedules (``solver_options={"damping": ...}``), both from
``mu = 1e-3``:

* ``"nielsen"`` (default): the gain-ratio update of Nielsen (1999)
  (Madsen, Nielsen & Tingleff 2004), a trust-region rule in the form of
  ``mu``: after an accepted step ``mu *= max(1/3, 1 - (2 rho - 1)^3)`` with
  ``rho`` the actual over the predicted decrease of ``J``; after a rejected
  one ``mu *= nu`` and ``nu *= 2`` (``nu`` starts at 2 and returns to 2 on
  acceptance).
* ``"trainlm"``: Hagan & Menhaj (1994), MATLAB's ``trainlm``: ``mu`` is
  multiplied by ``mu_dec = 0.1`` after an accepted step and by
  ``mu_inc = 10`` after a rejected one.

``benchmarks/bench_lm.py`` measured both on three regression problems and
five initial weights each: the median time to L-BFGS-B's loss was shorter
with ``"nielsen"`` on two problems of three, with plain or accelerated
steps.

Geodesic acceleration (Transtrum & Sethna 2012; ``solver_options=
{"geodesic": ...}``, ``"auto"`` by default: on unless a hidden activation
is ReLU-like, :data:`KINKED`) adds to the velocity ``v`` the acceleration
``a`` solving ``(G + mu I) a = -(1/S) sum_i s_i J_i' H_i r_vv,i`` with the
same Cholesky factor, ``r_vv`` the logits' second directional derivative
along ``v`` (:meth:`Objective.geodesic`, one pass over the rows), and tries
``v + a/2``; a trial with ``2 ||a|| / ||v||`` above ``geodesic_ratio``
(1.5) counts as rejected.  Measured with ``"nielsen"`` (median time to
L-BFGS-B's 3,000-iteration loss, tanh networks): Friedman #1 (97 weights)
7.6x sooner instead of 2.3x, peaks (501) 4.1x instead of 3.0x, the noisy
sinc (31) 17.6x instead of 21.7x (fewer iterations, but there the extra
pass costs about as much as ``G``'s).
"""

import contextlib

import numpy as np
from scipy.linalg import get_lapack_funcs
from scipy.optimize import OptimizeResult

from skbackprop._engine import threads
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

# solver_options of "lm" and their defaults (mu_dec and mu_inc: trainlm's).
DEFAULTS = {
    "damping": "nielsen",
    "mu": 1e-3,
    "mu_dec": 0.1,
    "mu_inc": 10.0,
    "mu_max": 1e10,
    "geodesic": "auto",
    "geodesic_ratio": 1.5,
}

# geodesic="auto": on when every hidden activation has a continuous first
# derivative (its second-order correction assumes smooth residuals), off
# for relu and leaky_relu, whose Jacobian jumps at the kinks: there the
# accelerated steps stalled a fit that the plain ones ended in 8 iterations
# (scikit-learn's sample-weight equivalence data, 15 rows, 30 features).
KINKED = frozenset({"relu", "leaky_relu"})

# The largest network "lm" trains.  G takes 8 n_params^2 bytes and one
# iteration about m n_params^2 + n_params^3 / 3 multiply-adds, against
# L-BFGS-B's 3 m n_params.  Measured (benchmarks/bench_lm.py, Friedman #1,
# 1,000 rows, one BLAS thread, damping="nielsen"): lm reached L-BFGS-B's
# loss after 3,000 iterations 3.7x sooner at 193 weights, 2.2x at 1,537,
# 1.2x at 3,073 and 0.6x at 4,801 (accelerated: 3.5x, 1.9x, 0.9x, 0.5x).
MAX_PARAMS = 3000

# The smallest growth of mu after a rejected trial ("trainlm"): 1.5 takes
# 57 rejections from mu = 1e-3 to mu_max = 1e10.
MIN_MU_INC = 1.5

# Below this many parameters the solver holds BLAS at one thread.
SINGLE_BLAS_BELOW = 1500


class Trainlm:
    """``mu`` times ``mu_dec`` after an accepted step, ``mu_inc`` after a
    rejected one."""

    def __init__(self, options):
        self.mu = options["mu"]
        self.dec, self.inc = options["mu_dec"], options["mu_inc"]

    def accepted(self, rho):
        self.mu *= self.dec

    def rejected(self):
        self.mu *= self.inc


class Nielsen:
    """Nielsen's gain-ratio update of ``mu`` (a trust-region rule)."""

    def __init__(self, options):
        self.mu, self.nu = options["mu"], 2.0

    def accepted(self, rho):
        self.mu *= max(1 / 3, 1 - (2 * rho - 1) ** 3)
        self.nu = 2.0

    def rejected(self):
        self.mu *= self.nu
        self.nu *= 2


DAMPINGS = {"trainlm": Trainlm, "nielsen": Nielsen}


def lm_options(solver_options):
    """The damping settings: :data:`DEFAULTS` updated by ``solver_options``."""
    given = dict(solver_options or {})
    check_option_names("lm", given, DEFAULTS)
    damping = given.pop("damping", DEFAULTS["damping"])
    if damping not in DAMPINGS:
        raise ValueError(
            f"solver_options['damping'] must be one of {sorted(DAMPINGS)}, "
            f"got {damping!r}."
        )
    if damping == "nielsen" and {"mu_inc", "mu_dec"} & set(given):
        raise ValueError(
            "mu_inc and mu_dec set the 'trainlm' damping (add "
            "damping='trainlm'); damping='nielsen', the default, adapts mu "
            "from the gain ratio."
        )
    geodesic = given.pop("geodesic", DEFAULTS["geodesic"])
    if not (isinstance(geodesic, bool | np.bool_) or geodesic == "auto"):
        raise ValueError(
            "solver_options['geodesic'] must be True, False or 'auto', got "
            f"{geodesic!r}."
        )
    if not isinstance(geodesic, str) and not geodesic and "geodesic_ratio" in given:
        raise ValueError(
            "geodesic_ratio bounds the geodesic acceleration: add geodesic=True."
        )
    geodesic = geodesic if isinstance(geodesic, str) else bool(geodesic)
    options = dict(DEFAULTS, damping=damping, geodesic=geodesic)
    for name, value in given.items():
        options[name] = real_option(name, value)
    if options["mu_dec"] >= 1:
        raise ValueError(f"mu_dec must be below 1, got {options['mu_dec']!r}.")
    if options["mu_inc"] < MIN_MU_INC:
        # Every rejected trial costs a cost evaluation: mu must reach mu_max
        # in a few dozen of them, not millions.
        raise ValueError(
            f"mu_inc must be at least {MIN_MU_INC}, got {options['mu_inc']!r}."
        )
    if options["mu_max"] < options["mu"]:
        raise ValueError(
            f"mu_max ({options['mu_max']!r}) must be at least mu ({options['mu']!r})."
        )
    return options


def single_blas_below(n_params):
    """Single-threaded BLAS for the factorizations of small networks.

    Measured (2 cores, idle): LAPACK's Cholesky ran 1.0-1.6x slower on two
    BLAS threads than on one up to 1,000 parameters and 1.45x faster from
    2,000 on; on a loaded machine the threads' hand-offs made small
    factorizations up to hundreds of times slower.  G's accumulation splits
    between the row workers either way.
    """
    if n_params < SINGLE_BLAS_BELOW:
        return threads.single_blas()
    return contextlib.nullcontext()


def check_size(n_params):
    """Refuse networks too large for a dense ``G``, suggesting the alternative."""
    if n_params > MAX_PARAMS:
        raise ValueError(
            f"solver='lm' forms and factors the {n_params} x {n_params} "
            f"Gauss-Newton matrix ({8 * n_params**2 / 2**20:.0f} MiB), which "
            f"stops paying above {MAX_PARAMS} parameters. Use "
            "solver='trust-ncg' with curvature='gauss-newton', which needs only "
            "products G v, or a smaller network."
        )


def damped_factor(G, mu):
    """The Cholesky factor of ``G + mu I``, or None when Cholesky fails.

    LAPACK's ``potrf`` directly: SciPy's ``cho_factor`` and ``cho_solve``
    add about 40 us per call, a tenth of an iteration on the smallest
    networks.  The copy of the symmetric ``G`` is taken in Fortran order
    (``G.T``), the order LAPACK works in: a C-ordered copy made f2py
    transpose it once more (501 parameters: 1.3 ms instead of 2.4 ms).
    """
    potrf = get_lapack_funcs("potrf", (G,))
    A = G.T.copy(order="K")
    A.flat[:: A.shape[0] + 1] += mu
    factor, info = potrf(A, lower=1, overwrite_a=1, clean=0)
    return factor if info == 0 else None  # else not positive definite: damp more


def solve_factor(factor, b):
    """``x`` solving ``(G + mu I) x = b`` from :func:`damped_factor`, or None."""
    potrs = get_lapack_funcs("potrs", (factor,))
    x, info = potrs(factor, b, lower=1)
    return x if info == 0 and np.isfinite(x).all() else None


def damped_step(G, D, mu):
    """``p`` solving ``(G + mu I) p = -D``, or None when Cholesky fails."""
    factor = damped_factor(G, mu)
    return None if factor is None else solve_factor(factor, -D)


def accelerated_step(objective, theta, G, D, mu, ratio):
    """The velocity ``v`` and the step ``v + a/2``, or None for a rejected one.

    ``v`` solves ``(G + mu I) v = -D``; the geodesic acceleration ``a``
    (Transtrum & Sethna 2012) solves ``(G + mu I) a = -(1/S) sum_i s_i J_i'
    H_i r_vv,i`` with the same Cholesky factor (``r_vv``: the second
    directional derivative of the logits along ``v``,
    :meth:`Objective.geodesic`).  ``ratio=None`` is the plain step ``v``.
    The accelerated step is refused (as a failed trial: ``mu`` grows) when
    ``2 ||a|| / ||v|| > ratio``: the second-order term is then no small
    correction and the expansion behind it not to be trusted.
    """
    factor = damped_factor(G, mu)
    v = None if factor is None else solve_factor(factor, -D)
    if v is None or ratio is None:
        return v, v
    a = solve_factor(factor, -np.asarray(objective.geodesic(theta, v), np.float64))
    if a is None or 2 * np.linalg.norm(a) > ratio * np.linalg.norm(v):
        return v, None
    return v, v + 0.5 * a


class LevenbergMarquardt(CountingSolver):
    """``solver="lm"``: Levenberg-Marquardt on the dense Gauss-Newton matrix."""

    name = "lm"
    diverged_text = "The gradient or Gauss-Newton matrix is not finite."
    doc = (
        "Levenberg-Marquardt (Hagan & Menhaj 1994; MATLAB's ``trainlm``), every "
        "loss: each iteration solves ``(G + mu I) p = -D`` with the dense "
        "Gauss-Newton matrix ``G`` by Cholesky.  Often the fastest on small "
        "networks (up to a few hundred weights), refused above 3,000; "
        '``solver_options`` sets ``damping`` (``"trainlm"`` or ``"nielsen"``), '
        "``mu``, ``mu_dec``, ``mu_inc``, ``mu_max``, ``geodesic`` (geodesic "
        "acceleration, Transtrum & Sethna 2012: the step ``v + a/2``, see "
        ':ref:`levenberg_marquardt`; ``"auto"``, the default, is on unless a '
        'hidden activation is ``"relu"`` or ``"leaky_relu"``) and '
        "``geodesic_ratio`` (the largest ``2 ||a|| / ||v||`` accepted, default "
        "1.5)."
    )
    curvature = True

    def check(self, objective, settings):
        super().check(objective, settings)
        lm_options(settings.solver_options)
        check_size(objective.net.n_params)

    def evaluate(self, objective, theta):
        return objective.cost(theta)  # a forward pass, as for the trials

    def run(self, objective, theta, progress, settings, state, rng):
        options = lm_options(settings.solver_options)
        with single_blas_below(objective.net.n_params):
            return _levenberg_marquardt(objective, theta, progress, settings, options)


register(LevenbergMarquardt())


def _levenberg_marquardt(objective, theta, progress, settings, options):
    damping = DAMPINGS[options["damping"]](options)
    mu_max = options["mu_max"]
    geodesic = options["geodesic"]
    if geodesic == "auto":
        geodesic = not KINKED & set(objective.net.activations)
    ratio = options["geodesic_ratio"] if geodesic else None
    theta = np.array(theta, dtype=np.float64)
    J = objective.cost(theta)
    # The run's counts, where the handler finds them if the run is cut.
    info = progress.info = {"nit": 0, "nfev": 1, "njev": 0, "ngev": 0, "mu": damping.mu}
    if not np.isfinite(J):
        raise Diverged(J, theta=theta)
    status, code, message, D = None, 0, None, None
    max_fun = settings.max_fun
    while info["nit"] < settings.max_iter and info["nfev"] < max_fun:
        # D and G from one pass over the rows; J is the trial's.
        _, D, G = objective.gauss_newton(theta)
        D, G = np.asarray(D, np.float64), np.asarray(G, np.float64)
        info["njev"] += 1
        if not (np.isfinite(D).all() and np.isfinite(G).all()):
            raise Diverged(np.nan, theta=theta)
        if np.max(np.abs(D)) <= settings.tol:
            status, code, message = CONVERGED, 1, "max|D| <= tol."
            break
        # Every trial costs an evaluation, a rejected one too.
        while info["nfev"] < max_fun:
            if damping.mu > mu_max:
                status, code = CONVERGED, 2
                message = "mu exceeded mu_max: no damped step lowers the loss."
                break
            p, step = accelerated_step(objective, theta, G, D, damping.mu, ratio)
            info["ngev"] += ratio is not None and p is not None
            if step is not None:
                trial = theta + step
                J_new = objective.cost(trial)
                info["nfev"] += 1
                # An overflowing trial (J_new inf or nan) is rejected too.
                if J_new < J:
                    # Gain ratio: actual over predicted decrease,
                    # -p'D - p'Gp/2 = p'(mu p - D)/2 as (G + mu I)p = -D.
                    # With acceleration, the velocity p's: the second-order
                    # model's decrease at p + a/2 is the linear model's at p,
                    # a cancelling r_vv's term in J's range.
                    predicted = 0.5 * float(p @ (damping.mu * p - D))
                    damping.accepted((J - J_new) / max(predicted, 1e-300))
                    info["mu"] = damping.mu
                    theta, J = trial, J_new
                    progress.memo = (theta, J)
                    break
            damping.rejected()
            info["mu"] = damping.mu
        else:
            break  # max_fun evaluations, rejected trials included
        if status is not None:
            break
        info["nit"] += 1
        progress(theta, J)
    if status is None:
        status = (
            ITERATION_LIMIT if info["nit"] >= settings.max_iter else EVALUATION_LIMIT
        )
        message = (
            "Maximum number of iterations has been exceeded"
            if status == ITERATION_LIMIT
            else "Maximum number of cost evaluations has been exceeded"
        ) + f" ({info['nit']} iterations, {info['nfev']} cost evaluations)."
    result = OptimizeResult(
        x=theta,
        fun=J,
        jac=D,
        **info,
        status=code,
        success=status == CONVERGED,
        message=message,
    )
    return Outcome(theta=theta, status=status, message=message, result=result)
