"""Scaled conjugate gradients: ``solver="scg"`` (Møller 1993 with exact
curvature products), its steps, scaling, options and stopping."""

import contextlib

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    cost_grad,
    hessian_vector_product,
    pack_params,
)
from skbackprop._engine.network import Network
from skbackprop._training.objective import InMemoryObjective
from skbackprop._training.settings import Settings
from skbackprop._training.solve import train
from skbackprop._training.solvers import scg

# Runs cut at max_iter warn; the tests that are about a warning catch it.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EPS = np.finfo(float).eps


class _Function:
    """``J``, ``D`` and ``H v`` given as formulas, with what ``train`` asks
    of an objective; counts the evaluations and products (and the
    curvature each product was asked for)."""

    net = Network((1, 1), "identity", "squared_error")  # two parameters
    alpha, n_samples, weight_sum = 0.0, 1, 1.0

    def __init__(self, fun, grad, hess):
        self.fun, self.grad, self.hess = fun, grad, hess
        self.calls, self.products = 0, []

    def cost_grad(self, theta):
        self.calls += 1
        return float(self.fun(theta)), np.asarray(self.grad(theta), float)

    def hessp(self, theta, v, curvature):
        self.products.append(curvature)
        return np.asarray(self.hess(theta), float) @ v

    def threads(self, batch_size=None, between=True):
        return contextlib.nullcontext()


class _Quadratic(_Function):
    """``J = theta'A theta / 2 - b'theta`` in ``n`` dimensions, with the
    network of ``n`` parameters its protocol asks for."""

    def __init__(self, A, b):
        super().__init__(
            lambda t: 0.5 * t @ A @ t - b @ t, lambda t: A @ t - b, lambda t: A
        )
        self.net = Network((1, A.shape[0] // 2), "identity", "squared_error")


def _well():
    """The Gaussian well ``J = 1 - exp(-x^2 / 2) + y^2 / 2``: its curvature
    in x, ``(1 - x^2) exp(-x^2 / 2)``, is negative for ``|x| > 1``."""

    def fun(t):
        return 1 - np.exp(-(t[0] ** 2) / 2) + t[1] ** 2 / 2

    def grad(t):
        return [t[0] * np.exp(-(t[0] ** 2) / 2), t[1]]

    def hess(t):
        return np.diag([(1 - t[0] ** 2) * np.exp(-(t[0] ** 2) / 2), 1.0])

    return _Function(fun, grad, hess)


def _run(objective, theta, **settings):
    """``train`` with solver="scg": its Result and the iterates it reported."""
    iterates = []
    settings.setdefault("callback", lambda state: iterates.append(state.x))
    s = Settings(solver="scg", **settings)
    result = train(objective, np.asarray(theta, float), s, None)
    return result, np.array(iterates)


def _params(est):
    return pack_params(est.coefs_, est.intercepts_)


def _cost(est, X, Y):
    sizes = (X.shape[1], *(W.shape[1] for W in est.coefs_))
    return cost_grad(
        _params(est), X, Y, sizes, est.activation, est.loss_function_, est.alpha
    )


def _classification(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] ** 2, [-0.3, 0.8])
    return X, y


def _quadratic_problem(n=6, kappa=10.0):
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = np.linspace(1.0, kappa, n)
    return Q @ np.diag(eigenvalues) @ Q.T, rng.normal(size=n), eigenvalues


@pytest.mark.parametrize("lam", [scg.LAMBDA_MIN, scg.DEFAULTS["lambda"]])
def test_minimizes_a_quadratic_in_n_iterations(lam):
    # With exact products and lambda -> 0 every step minimizes J along p and
    # the directions are A-conjugate: conjugate gradients, which end at the
    # minimum after n steps.  lambda scales each step by 1 / (1 + lambda /
    # (p'Ap / |p|^2)), a relative error of at most lambda / lambda_min(A);
    # rounding adds about eps kappa per step.
    A, b, eigenvalues = _quadratic_problem()
    n, kappa = b.size, eigenvalues[-1] / eigenvalues[0]
    error = lam / eigenvalues[0] + EPS
    tolerance = 10 * n * kappa * error * np.max(np.abs(b))
    options = {"lambda": lam}
    short, _ = _run(
        _Quadratic(A, b), np.zeros(n), tol=0.0, max_iter=n - 1, solver_options=options
    )
    result, iterates = _run(
        _Quadratic(A, b), np.zeros(n), tol=0.0, max_iter=n, solver_options=options
    )
    assert len(iterates) == n
    assert np.max(np.abs(A @ result.theta - b)) <= tolerance
    # n - 1 steps do not reach the minimum: the test can tell.
    assert np.max(np.abs(A @ short.theta - b)) > 1e-3 * np.max(np.abs(b))
    assert result.optimize_result.nhev == n  # every step accepted
    assert result.optimize_result.nfev == n + 1


def test_stops_at_the_quadratics_minimum():
    # The comparison of costs resolves decreases |D|^2 / (2 lambda_max(A))
    # above the cost's rounding, eps |J|: max|D| down to about
    # sqrt(2 lambda_max eps |J|), 1e-7 here; tol is ten times that.
    A, b, eigenvalues = _quadratic_problem()
    objective = _Quadratic(A, b)
    J_min = -0.5 * b @ np.linalg.solve(A, b)
    tol = 10 * np.sqrt(2 * eigenvalues[-1] * EPS * abs(J_min))
    result, _ = _run(objective, np.zeros(b.size), tol=tol, max_iter=100)
    assert result.status == "converged" and result.optimize_result.status == 0
    assert np.max(np.abs(A @ result.theta - b)) <= tol
    assert result.loss == objective.fun(result.theta)


def test_stops_when_the_step_no_longer_changes_the_parameters():
    # tol=0: at the minimum, rounding decides every comparison; lambda grows
    # until the scaled step is below the parameters' resolution.
    A, b, _ = _quadratic_problem()
    result, _ = _run(_Quadratic(A, b), np.zeros(b.size), tol=0.0, max_iter=1000)
    assert result.status == "converged" and result.optimize_result.status == 5
    assert "no longer changes the parameters" in result.optimize_result.message
    assert result.n_iter < 1000
    x = np.linalg.solve(A, b)
    assert np.max(np.abs(result.theta - x)) <= 1e-6 * np.max(np.abs(x))


def test_negative_curvature_is_scaled_as_moller_says():
    # At x = 1.5 the curvature along p = -D is H = (1 - x^2) e^{-x^2/2} < 0
    # (y = 0 keeps p on the x axis).  Møller's step 4 sets lambda =
    # 2 (lambda - delta / |p|^2) = -2 H, so that delta = p'Hp + lambda |p|^2
    # = -H |p|^2, and the step alpha p = -D / (-H) lands at x0 - g / |H|,
    # which lowers J by more than 3/4 of the prediction: lambda halves to -H.
    x0 = 1.5
    g = x0 * np.exp(-(x0**2) / 2)
    H = (1 - x0**2) * np.exp(-(x0**2) / 2)
    objective = _well()
    result, iterates = _run(objective, [x0, 0.0], tol=0.0, max_iter=1)
    x1 = x0 + g / H
    np.testing.assert_allclose(iterates, [[x1, 0.0]], rtol=1e-14)
    predicted = g**2 / (2 * -H)
    actual = objective.fun([x0, 0.0]) - objective.fun([x1, 0.0])
    assert actual / predicted >= 0.75
    assert result.optimize_result["lambda"] == pytest.approx(-H, rel=1e-14)


def test_a_rejected_step_grows_lambda_and_retries_the_same_direction():
    # From x = 0.9 with lambda = 0.1: the step -g / (H + 0.1) overshoots to
    # x = -1.75, where J is higher: rejected, lambda = 0.4, and the same p
    # with the same p'Hp (no new product) gives -g / (H + 0.4), accepted
    # with a ratio >= 0.75: lambda halves to 0.2.
    x0, lam = 0.9, 0.1
    g = x0 * np.exp(-(x0**2) / 2)
    H = (1 - x0**2) * np.exp(-(x0**2) / 2)
    objective = _well()
    first = x0 - g / (H + lam)
    assert objective.fun([first, 0.0]) > objective.fun([x0, 0.0])
    second = x0 - g / (H + 4 * lam)
    predicted = g**2 / (2 * (H + 4 * lam))
    assert objective.fun([x0, 0.0]) - objective.fun([second, 0.0]) >= 0.75 * predicted
    result, iterates = _run(
        objective, [x0, 0.0], tol=0.0, max_iter=1, solver_options={"lambda": lam}
    )
    np.testing.assert_allclose(iterates, [[second, 0.0]], rtol=1e-14)
    info = result.optimize_result
    assert info.nfev == objective.calls == 3 and info.nhev == 1
    assert info["lambda"] == pytest.approx(2 * lam, rel=1e-15)


def test_an_overflowing_trial_is_rejected_not_divergence():
    # J is not finite beyond |x| = 1.2: the first trial (x = -1.75) is
    # rejected like a rise of J, and the run goes on.
    well = _well()
    objective = _Function(
        lambda t: well.fun(t) if abs(t[0]) < 1.2 else np.inf, well.grad, well.hess
    )
    result, iterates = _run(
        objective, [0.9, 0.0], tol=1e-8, max_iter=50, solver_options={"lambda": 0.1}
    )
    assert result.status == "converged"
    assert np.all(np.abs(iterates[:, 0]) < 1.2)
    assert result.optimize_result.nfev > result.n_iter + 1


def test_curvature_parameter_chooses_the_products():
    for curvature in ("exact", "gauss-newton"):
        objective = _well()
        _run(objective, [0.5, 0.2], max_iter=5, curvature=curvature)
        assert objective.products and set(objective.products) == {curvature}


def _strictly_convex(kind):
    """No hidden layers and a penalty: a strictly convex cost (one logistic
    output, not a softmax, whose biases may all shift)."""
    X, y = _classification()
    if kind == "binary":
        y = (y > 0).astype(int)
        return BackpropClassifier, X, y, y[:, None].astype(float)
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * X[:, 2] ** 2
    return BackpropRegressor, X, y, y[:, None]


def _min_eigenvalue(est, X, Y):
    theta = _params(est)
    sizes = (X.shape[1], *(W.shape[1] for W in est.coefs_))
    loss = est.loss_function_
    H = np.column_stack(
        [
            hessian_vector_product(theta, e, X, Y, sizes, est.activation, loss, 1.0)
            for e in np.eye(theta.size)
        ]
    )
    return np.linalg.eigvalsh((H + H.T) / 2)[0]


@pytest.mark.parametrize("curvature", ["exact", "gauss-newton"])
@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_convex_problem_reaches_lbfgs_loss(kind, curvature):
    # J - J* <= n max|D|^2 / (2 m) near the minimum of a strictly convex
    # cost with Hessian eigenvalues >= m (doubled: m is measured at one of
    # the two points).
    Estimator, X, y, Y = _strictly_convex(kind)
    common = dict(hidden_layer_sizes=(), alpha=1.0, max_iter=500, random_state=0)
    reference = Estimator(solver="L-BFGS-B", tol=1e-10, **common).fit(X, y)
    est = Estimator(solver="scg", tol=1e-8, curvature=curvature, **common)
    est.fit(X, y)
    assert est.optimize_result_.success and est.optimize_result_.status == 0
    m = _min_eigenvalue(reference, X, Y)
    assert m > 0
    bound = 8 * EPS * reference.loss_
    for fit in (reference, est):
        J, D = _cost(fit, X, Y)
        assert fit.loss_ == pytest.approx(J, rel=1e-12)
        bound += 2 * D.size * np.max(np.abs(D)) ** 2 / (2 * m)
    assert np.max(np.abs(_cost(est, X, Y)[1])) <= 1e-8
    assert abs(est.loss_ - reference.loss_) <= bound


def test_small_network_converges():
    X, y = _classification()
    est = BackpropClassifier(
        (8,), "tanh", solver="scg", random_state=0, tol=1e-5, max_iter=1000
    ).fit(X, y)
    J, D = _cost(est, X, np.eye(3)[y])
    assert est.optimize_result_.success and np.max(np.abs(D)) <= 1e-5
    assert est.loss_ == J == est.loss_curve_[-1]
    assert est.n_iter_ == est.optimize_result_.nit == est.optimize_result_.nhev
    assert est.score(X, y) > 0.9


def test_bit_reproducible():
    X, y = _classification()
    fits = [
        BackpropClassifier((5,), solver="scg", max_iter=30, random_state=3).fit(X, y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(_params(fits[0]), _params(fits[1]))
    assert fits[0].loss_curve_ == fits[1].loss_curve_


@pytest.mark.parametrize(
    "loss, kind",
    [
        ("squared_error", "regression"),
        ("poisson", "counts"),
        ("log_loss", "multiclass"),
        ("binary_log_loss", "binary"),
        ("binary_log_loss", "multilabel"),
    ],
)
def test_every_loss(loss, kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    score = X[:, 0] - 0.5 * X[:, 1]
    if kind == "regression":
        est, y = BackpropRegressor(loss=loss), score
    elif kind == "counts":
        est, y = BackpropRegressor(loss=loss), rng.poisson(np.exp(0.5 * score))
    elif kind == "multiclass":
        est, y = BackpropClassifier(), np.digitize(score, [-0.5, 0.5])
    elif kind == "binary":
        est, y = BackpropClassifier(), (score > 0).astype(int)
    else:
        est = BackpropClassifier()
        y = np.column_stack([score > 0, X[:, 2] > 0]).astype(int)
    est.set_params(hidden_layer_sizes=(4,), solver="scg", max_iter=40, random_state=0)
    est.fit(X, y)
    assert est.loss_function_.name == loss
    assert est.loss_ < est.loss_curve_[0] and est.loss_ == est.loss_curve_[-1]
    # Only steps that lower the cost are taken.
    assert np.all(np.diff(est.loss_curve_) < 0)


def test_float32_and_sparse_data():
    X, y = _classification()
    f32 = BackpropClassifier((5,), solver="scg", max_iter=20, random_state=0)
    f32.fit(X.astype(np.float32), y)
    assert f32.coefs_[0].dtype == np.float32 and np.isfinite(f32.loss_)
    a = BackpropClassifier((5,), solver="scg", max_iter=10, random_state=0).fit(X, y)
    b = BackpropClassifier((5,), solver="scg", max_iter=10, random_state=0)
    b.fit(sp.csr_matrix(X), y)
    # The same sums in another order: paths a few rounding errors apart.
    np.testing.assert_allclose(_params(a), _params(b), rtol=0, atol=1e-9)


def test_evaluation_limit():
    X, y = _classification()
    est = BackpropClassifier((5,), solver="scg", max_fun=6, random_state=0)
    with pytest.warns(ConvergenceWarning, match="cost evaluations has been exceeded"):
        est.fit(X, y)
    assert est.optimize_result_.nfev == 6 and est.optimize_result_.status == 2


class _InterruptAt:
    """``InMemoryObjective``'s ``cost_grad`` and ``hessp``, whose ``k``-th
    call (of either) evaluates, then raises KeyboardInterrupt."""

    def __init__(self, monkeypatch, k):
        self.count, self.k = 0, k
        for name in ("cost_grad", "hessp"):
            real = getattr(InMemoryObjective, name)
            monkeypatch.setattr(InMemoryObjective, name, self._wrap(real))

    def _wrap(self, real):
        def wrapped(objective, *args):
            value = real(objective, *args)
            self.count += 1
            if self.count == self.k:
                raise KeyboardInterrupt
            return value

        return wrapped


def _check_consistent(est, X, y):
    J, _ = _cost(est, X, np.eye(3)[y])
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_ == pytest.approx(J, rel=1e-12, abs=1e-14)
    if est.n_iter_:
        assert est.loss_curve_[-1] == pytest.approx(J, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("k", [1, 2, 3, 6, 9])
def test_an_interrupt_anywhere_keeps_weights_and_loss_together(monkeypatch, k):
    X, y = _classification()
    est = BackpropClassifier((4,), "tanh", solver="scg", max_iter=20, random_state=0)
    interrupt = _InterruptAt(monkeypatch, k)
    with pytest.warns(ConvergenceWarning, match="interrupted"):
        try:
            est.fit(X, y)
        except KeyboardInterrupt:  # in the final evaluation: nothing kept
            assert not hasattr(est, "coefs_")
            return
    monkeypatch.undo()
    assert interrupt.count >= k
    _check_consistent(est, X, y)


@pytest.mark.parametrize("stop", ["callback", "KeyboardInterrupt", "StopIteration"])
def test_a_stop_from_the_callback_keeps_weights_and_loss_together(stop):
    X, y = _classification()

    def callback(state):
        if state.nit == 3:
            if stop == "KeyboardInterrupt":
                raise KeyboardInterrupt
            if stop == "StopIteration":
                raise StopIteration
            return True
        return False

    est = BackpropClassifier(
        (4,), "tanh", solver="scg", callback=callback, random_state=0
    ).fit(X, y)
    assert est.n_iter_ == 3
    _check_consistent(est, X, y)
    assert est.optimize_result_.status == 3 and not est.optimize_result_.success


def test_non_finite_curvature_is_divergence():
    well = _well()
    objective = _Function(
        well.fun, well.grad, lambda t: np.full((2, 2), np.inf if t[1] < 0.1 else 1.0)
    )
    with pytest.warns(ConvergenceWarning, match="curvature product H v became non"):
        result, iterates = _run(objective, [0.5, 0.2], tol=0.0, max_iter=10)
    assert result.status == "diverged" and result.n_iter == len(iterates) >= 1
    np.testing.assert_array_equal(result.theta, iterates[-1])


def test_non_finite_gradient_is_divergence():
    well = _well()
    objective = _Function(
        well.fun, lambda t: [np.nan if t[1] < 0.1 else t[0], t[1]], well.hess
    )
    with pytest.warns(ConvergenceWarning, match="gradient became non-finite"):
        result, _ = _run(objective, [0.5, 0.2], tol=0.0, max_iter=10)
    assert result.status == "diverged"
    assert result.loss == well.fun(result.theta)


def test_non_finite_start_raises():
    objective = _Function(lambda t: np.nan, lambda t: t, lambda t: np.eye(2))
    with pytest.raises(ValueError, match="non-finite.*starting parameters"):
        _run(objective, [1.0, 2.0])


@pytest.mark.parametrize(
    "options, match",
    [
        ({"sigma": 1e-4}, r"\['sigma'\] are not options of solver='scg'"),
        ({"lambda": 0.0}, "finite number of at least"),
        ({"lambda": -1.0}, "finite number of at least"),
        ({"lambda": np.inf}, "finite number of at least"),
        ({"lambda": True}, "finite number of at least"),
        ({"lambda": "1e-6"}, "finite number of at least"),
    ],
)
def test_bad_options_raise_and_leave_the_estimator_unchanged(options, match):
    X, y = _classification()
    est = BackpropClassifier((3,), solver="scg", solver_options=options)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
    assert scg.scg_options(None) == scg.DEFAULTS


def test_dask_objective_takes_the_same_path():
    da = pytest.importorskip("dask.array")
    X, y = _classification(n=150)
    sw = np.random.default_rng(1).uniform(0.2, 2.0, size=150)
    params = dict(solver="scg", max_iter=8, tol=0.0, random_state=0)
    memory = BackpropClassifier((5,), "tanh", **params).fit(X, y, sample_weight=sw)
    dask_fit = BackpropClassifier((5,), "tanh", **params).fit(
        da.from_array(X, chunks=(40, 3)),
        da.from_array(y, chunks=50),
        sample_weight=da.from_array(sw, chunks=30),
    )
    # The blocks sum in another order: paths a few rounding errors apart.
    assert dask_fit.n_iter_ == memory.n_iter_ == 8
    np.testing.assert_allclose(_params(dask_fit), _params(memory), rtol=0, atol=1e-9)
    np.testing.assert_allclose(dask_fit.loss_curve_, memory.loss_curve_, rtol=1e-10)


def test_runs_inside_the_evidence_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=80)
    est = BackpropRegressor(
        (4,), "tanh", solver="scg", alpha="evidence", max_iter=200, random_state=0
    ).fit(X, y)
    assert np.isfinite(est.alpha_) and est.alpha_ > 0
    assert len(est.evidence_curve_) >= 2
