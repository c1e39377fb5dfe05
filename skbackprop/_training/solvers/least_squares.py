"""Squared-error regression by :func:`scipy.optimize.least_squares`.

The cost of a squared-error network is half a sum of squared residuals::

    J = 1/2 ||r||^2,   r = [ sqrt(s_i / S) (a_i - y_i) ;  sqrt(alpha / S) W ]

one residual per row and output, plus one per weight for the penalty.  Their
Jacobian is the logits' Jacobian scaled by ``sqrt(s_i / S)`` over the
identity on the weights: dense, built block by block, where it fits in
:data:`DENSE_BYTES`; otherwise a :class:`~scipy.sparse.linalg.LinearOperator`
whose ``matvec`` is the forward R-operator (``J v``) and ``rmatvec``
backpropagation (``J' u``), solved with ``tr_solver="lsmr"``.  SciPy's
robust losses (``loss="soft_l1"``, ``"huber"``...) then minimize
``1/2 sum_k rho(r_k^2 / c^2) c^2`` instead of ``J``, with
``c = f_scale / sqrt(S)``: ``f_scale`` (by default SciPy's 1) is the
residual ``a_i - y_i`` (of a row of unit weight) where the robust loss
leaves the quadratic zone, in the targets' units; ``S`` is the user's
weight sum, whatever power of two the objective's weights were divided by.
"""

import numbers

import numpy as np
from scipy.optimize import OptimizeResult, least_squares
from scipy.sparse.linalg import LinearOperator

from skbackprop._engine.jacobian import Linearization, jacobian_rows
from skbackprop._engine.network import penalized
from skbackprop._training.objective import InMemoryObjective
from skbackprop._training.progress import Diverged
from skbackprop._training.solvers import (
    CONVERGED,
    DIVERGED,
    FAILED,
    INTERRUPTED,
    ITERATION_LIMIT,
    Outcome,
    Solver,
    register,
)
from skbackprop._training.solvers.lm import single_blas_below

# solver_options passed through to least_squares.
OPTIONS = {
    "method",
    "loss",
    "f_scale",
    "x_scale",
    "tr_solver",
    "tr_options",
    "ftol",
    "xtol",
    "gtol",
    "max_nfev",
}

# The largest dense Jacobian (residuals x parameters, float64) built.
DENSE_BYTES = 2**28


class Residuals:
    """The residuals ``r(theta)`` of a squared-error objective and their Jacobian.

    Parameters
    ----------
    objective : InMemoryObjective
        A squared-error objective.
    """

    def __init__(self, objective):
        self.objective = o = objective
        self.net = net = o.net
        m, n_out = o.Y.shape
        S = o.weight_sum
        sw = np.ones(m) if o.sample_weight is None else o.sample_weight
        self.scale = np.sqrt(np.asarray(sw, dtype=np.float64) / S)
        self.c = np.sqrt(o.alpha / S)  # the penalty rows' factor
        self.n_penalty = net.n_coefs if penalized(o.alpha) else 0
        self.shape = (m * n_out + self.n_penalty, net.n_params)
        self.dense = self.shape[0] * self.shape[1] * 8 <= DENSE_BYTES

    def __call__(self, theta):
        """``r(theta)``, in float64."""
        net, o = self.net, self.objective
        with np.errstate(over="ignore", invalid="ignore"):
            Z = net.forward(theta, o.X, out_activation=False)
            R = (Z - o.Y) * self.scale[:, None]
        return np.concatenate([R.ravel(), self.c * theta[: self.n_penalty]])

    def jacobian(self, theta):
        """The residuals' Jacobian: a dense array or a LinearOperator."""
        net, o = self.net, self.objective
        blocks = []
        rows = jacobian_rows(net) if self.dense else net.chunk_size
        params = net.unpack(net.as_theta(theta))
        for start in range(0, o.n_samples, rows):
            stop = min(start + rows, o.n_samples)
            blocks.append((start, stop, Linearization(net, params, o.X[start:stop])))
        return self._dense(blocks) if self.dense else self._operator(blocks)

    def _dense(self, blocks):
        n_out, P = self.net.layer_sizes[-1], self.net.n_params
        Jac = np.zeros(self.shape)
        for start, stop, lin in blocks:
            block = lin.dense() * self.scale[start:stop, None, None]
            Jac[start * n_out : stop * n_out] = block.reshape(-1, P)
        k = self.n_penalty
        Jac[self.shape[0] - k :, :k][np.diag_indices(k)] = self.c
        return Jac

    def _operator(self, blocks):
        net, n_out, k = self.net, self.net.layer_sizes[-1], self.n_penalty
        m = self.shape[0] - k

        def matvec(v):
            v = np.ravel(v)
            theta_v = net.as_theta(v)
            out = np.empty(self.shape[0])
            top = out[:m].reshape(-1, n_out)
            for start, stop, lin in blocks:
                top[start:stop] = lin.jvp(theta_v) * self.scale[start:stop, None]
            out[m:] = self.c * v[:k]
            return out

        def rmatvec(u):
            u = np.ravel(u)
            U = u[:m].reshape(-1, n_out) * self.scale[:, None]
            U = U.astype(net.dtype, copy=False)
            out = np.zeros(net.n_params, net.dtype)
            for start, stop, lin in blocks:
                lin.vjp(U[start:stop], out)
            out = out.astype(np.float64)
            out[:k] += self.c * u[m:]
            return out

        return LinearOperator(
            self.shape, matvec=matvec, rmatvec=rmatvec, dtype=np.float64
        )


def least_squares_options(solver_options, settings, dense, weight_sum, scale=1.0):
    """Keyword arguments of :func:`~scipy.optimize.least_squares`, checked.

    ``weight_sum`` is the objective's ``S``, the user's weight sum divided
    by ``scale`` (a power of two, see
    :class:`~skbackprop._training.objective.Objective`).
    """
    options = dict(solver_options or {})
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise ValueError(
            f"solver_options {unknown} are not options of solver='least_squares'; "
            f"it accepts {sorted(OPTIONS)}."
        )
    method = options.setdefault("method", "trf")
    if method not in ("trf", "dogbox", "lm"):
        raise ValueError(
            f"solver_options['method'] must be 'trf', 'dogbox' or 'lm', got {method!r}."
        )
    # The residuals carry the factor sqrt(s_i / S): a soft margin in the
    # targets' units for a row of unit weight (SciPy's default, 1, too)
    # becomes f_scale / sqrt(S) in theirs, S the user's sum, scale * S here.
    f_scale = options.get("f_scale", 1.0)
    if not isinstance(f_scale, numbers.Real) or not f_scale > 0:
        raise ValueError(
            f"solver_options['f_scale'] must be a positive number, got {f_scale!r}."
        )
    options["f_scale"] = float(f_scale) / np.sqrt(weight_sum) / np.sqrt(scale)
    # SciPy refuses (lm) or warns about (trf, dogbox) tolerances below
    # machine epsilon: tol=0 runs to that limit instead.
    options.setdefault("gtol", max(settings.tol, np.finfo(np.float64).eps))
    options.setdefault("max_nfev", settings.max_fun)
    if not dense:
        if method == "lm" or options.get("tr_solver", "lsmr") != "lsmr":
            raise ValueError(
                f"The residuals' Jacobian would take more than {DENSE_BYTES >> 20} "
                "MiB as a dense matrix, so solver='least_squares' uses it as a "
                "LinearOperator, which needs tr_solver='lsmr' with method='trf' "
                "or 'dogbox' (method='lm' factors the dense matrix). Choose "
                "those, or solver='lm'."
            )
        options["tr_solver"] = "lsmr"
    return options


class LeastSquares(Solver):
    """``solver="least_squares"``: SciPy's ``least_squares`` on the residuals."""

    name = "least_squares"
    doc = (
        ":func:`scipy.optimize.least_squares` on the residuals of squared-error "
        "regression; ``solver_options`` passes ``method``, ``loss`` (robust "
        'losses such as ``"soft_l1"``), ``f_scale`` (in the targets\' units, '
        "default 1), "
        "``x_scale``, ``tr_solver``, ``tr_options``, ``ftol``, ``xtol``, "
        "``gtol``, ``max_nfev``."
    )
    dask = False
    curvature = True

    def check(self, objective, settings):
        super().check(objective, settings)
        if not isinstance(objective, InMemoryObjective):
            raise ValueError(
                "solver='least_squares' needs the data in memory; use solver='lm' "
                "for Dask arrays."
            )
        if objective.net.loss.likelihood != "gaussian":
            raise ValueError(
                "solver='least_squares' fits squared-error regression only, not "
                f"loss={objective.net.loss.name!r}; use solver='lm', whose "
                "Gauss-Newton matrix serves every loss with a curvature."
            )

    def run(self, objective, theta, progress, settings, state, rng):
        return _least_squares(objective, theta, progress, settings)

    def cut_result(self, status, theta, loss, progress):
        return OptimizeResult(
            x=theta,
            nit=progress.n_iter,
            status=-2,
            success=False,
            message={
                ITERATION_LIMIT: "Maximum number of iterations has been exceeded.",
                INTERRUPTED: "Interrupted by the user.",
                DIVERGED: "The training loss became non-finite.",
            }.get(status, "Stopped by the callback or early stopping."),
        )


register(LeastSquares())


def _least_squares(objective, theta, progress, settings):
    """Minimize the residuals of a squared-error ``objective`` from ``theta``."""
    residuals = Residuals(objective)
    options = least_squares_options(
        settings.solver_options,
        settings,
        residuals.dense,
        objective.weight_sum,
        objective.scale,
    )
    theta = np.array(theta, dtype=np.float64)
    J0 = objective.cost_grad(theta)[0]
    if not np.isfinite(J0):
        raise Diverged(J0, theta=theta)
    jacobians = [0]
    progress.limit = settings.max_iter

    def on_iteration(x, f):
        progress(x, 0.5 * float(f @ f))

    def callback(intermediate_result):
        on_iteration(intermediate_result.x, intermediate_result.fun)

    kwargs = {"callback": callback}
    if options["method"] == "lm":
        # MINPACK takes no callback; it evaluates the Jacobian once per
        # iteration, at the point its last residuals were evaluated.
        kwargs = {}
        memo = {}

        def fun(x):
            memo["x"], memo["f"] = np.array(x, copy=True), residuals(x)
            return memo["f"]

        def jac(x):
            if jacobians[0] and np.array_equal(x, memo["x"]):
                on_iteration(x, memo["f"])
            jacobians[0] += 1
            return residuals.jacobian(x)
    else:
        fun, jac = residuals, residuals.jacobian

    # SciPy factors the dense Jacobian (an SVD for trf and dogbox) every
    # iteration: as lm's Cholesky, on one BLAS thread for small networks
    # (1.2x faster at 300 x 31 on an idle machine, 70x under load).
    # Far from a minimum a trial's squared residuals can overflow; SciPy
    # then shrinks its trust region, and numpy's warnings are noise.
    with (
        single_blas_below(objective.net.n_params),
        np.errstate(over="ignore", invalid="ignore"),
    ):
        result = least_squares(fun, theta, jac=jac, **options, **kwargs)
    # The Jacobian and residuals are data-sized (and an operator does not
    # pickle): the fitted estimator keeps SciPy's summary only.
    result.pop("jac", None)
    result.pop("fun", None)
    message = str(result.message)
    if not result.success:
        message = f"{message} ({result.nfev} evaluations; max_fun bounds them)"
    return Outcome(
        theta=result.x,
        status=CONVERGED if result.success else FAILED,
        message=message,
        result=result,
    )
