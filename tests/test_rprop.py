"""Resilient backpropagation: ``solver="rprop"`` (iRprop+), its steps, options
and stopping."""

import contextlib
import warnings

import numpy as np
import pytest
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
from skbackprop._training.solvers import rprop

# Runs cut at max_iter warn; the tests that are about a warning catch it.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class _Function:
    """``J(theta)`` and ``D(theta)`` given as formulas, with what ``train``
    asks of an objective; counts its evaluations."""

    net = Network((1, 1), "identity", "squared_error")  # two parameters
    alpha, n_samples, weight_sum = 0.0, 1, 1.0

    def __init__(self, fun, grad):
        self.fun, self.grad, self.calls = fun, grad, 0

    def cost_grad(self, theta):
        self.calls += 1
        return float(self.fun(theta)), np.asarray(self.grad(theta), float)

    def threads(self, batch_size=None, between=True):
        return contextlib.nullcontext()


def _run(objective, theta, **settings):
    """``train`` with solver="rprop": its Result and the iterates it reported."""
    iterates = []
    settings.setdefault("callback", lambda state: iterates.append(state.x))
    s = Settings(solver="rprop", **settings)
    result = train(objective, np.asarray(theta, float), s, None)
    return result, np.array(iterates)


def _params(est):
    return pack_params(est.coefs_, est.intercepts_)


def _cost(est, X, Y):
    sizes = (X.shape[1], *(W.shape[1] for W in est.coefs_))
    J, D = cost_grad(
        _params(est), X, Y, sizes, est.activation, est.loss_function_, est.alpha
    )
    return J, D


def _classification(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] ** 2, [-0.3, 0.8])
    return X, y


def test_steps_follow_a_hand_computation():
    # J = x^2 / 2 + y / 1000: x oscillates about 0, y's gradient never
    # changes sign.  delta0 = 0.07, eta_plus = 1.2, eta_minus = 0.5.
    objective = _Function(
        lambda t: 0.5 * t[0] ** 2 + 1e-3 * t[1], lambda t: [t[0], 1e-3]
    )
    options = {"delta_min": 0.03, "delta_max": 0.1}
    with pytest.warns(ConvergenceWarning, match="did not converge after 8 it"):
        result, iterates = _run(
            objective, [0.1, 0.0], tol=0.0, max_iter=8, solver_options=options
        )
    x = [
        0.03,  # 0.1 - 0.07: the first step has no previous sign
        -0.054,  # same sign: Delta = 0.084
        0.03,  # flip, J rose (1.304e-3 > 3.8e-4): back to x_1; Delta = 0.042
        -0.012,  # stored gradient 0: step 0.042 without changing Delta
        -0.012,  # flip, J fell: stays; Delta = max(0.021, delta_min) = 0.03
        0.018,  # -0.012 + 0.03
        0.018,  # flip, J fell (-3.92e-4 < -3.82e-4): stays; Delta = 0.03
        -0.012,  # 0.018 - 0.03
    ]
    # y: 0.07, 0.084, then delta_max = 0.1 caps 0.1008 and every later step.
    y = -np.cumsum([0.07, 0.084, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    np.testing.assert_allclose(iterates, np.column_stack([x, y]), rtol=0, atol=1e-15)
    assert result.n_iter == 8 and result.status == "iteration limit"
    assert result.loss == objective.fun(iterates[-1])
    assert result.optimize_result.nfev == 9 and objective.calls == 9


def test_no_evaluation_when_no_parameter_moves():
    # One parameter whose sign flips every other iteration: the iterations
    # that only shrink the step leave theta where it is, and reuse J and D.
    objective = _Function(lambda t: 0.5 * t[0] ** 2, lambda t: [t[0], 0.0])
    result, iterates = _run(objective, [0.1, 0.0], tol=0.0, max_iter=6)
    moved = np.any(np.diff(iterates, axis=0) != 0, axis=1)
    assert not moved.all()
    assert objective.calls == result.optimize_result.nfev == 2 + moved.sum()


def test_bounds_are_kept_by_projection_and_the_run_converges():
    # The unconstrained minimum (1, -1) lies outside the box x <= 0.5,
    # y >= -0.25: the run ends at the corner, the gradient there pointing
    # out of the box.
    objective = _Function(
        lambda t: 0.5 * ((t[0] - 1) ** 2 + (t[1] + 1) ** 2),
        lambda t: [t[0] - 1, t[1] + 1],
    )
    bounds = (np.array([-np.inf, -0.25]), np.array([0.5, np.inf]))
    result, iterates = _run(objective, [0.0, 0.0], tol=1e-12, bounds=bounds)
    assert np.all(iterates <= bounds[1]) and np.all(iterates >= bounds[0])
    np.testing.assert_array_equal(result.theta, [0.5, -0.25])
    assert result.status == "converged" and result.optimize_result.success


def test_monotonic_constraints():
    X, y = _classification()
    X = X[:, :2]
    y = (y > 0).astype(int)
    est = BackpropClassifier(
        (6,), "tanh", solver="rprop", monotonic_cst=[1, 0], random_state=0
    ).fit(X, y)
    W1, W2 = est.coefs_
    # Increasing in feature 0: its weights and the output layer's share a sign.
    assert np.all(W1[0] >= 0) and np.all(W2 >= 0)
    grid = np.linspace(-3, 3, 50)
    for x1 in (-1.0, 0.0, 1.0):
        p = est.predict_proba(np.column_stack([grid, np.full_like(grid, x1)]))[:, 1]
        assert np.all(np.diff(p) >= 0)


def _strictly_convex(kind):
    """A problem without hidden layers, with a penalty: a strictly convex cost
    (one logistic output, not a softmax, whose biases may all shift)."""
    X, y = _classification()
    if kind == "binary":
        y = (y > 0).astype(int)
        return BackpropClassifier, X, y, y[:, None].astype(float)
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * X[:, 2] ** 2
    return BackpropRegressor, X, y, y[:, None]


def _min_eigenvalue(est, X, Y):
    """The smallest eigenvalue of the Hessian at ``est``'s parameters."""
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


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_convex_problem_reaches_lbfgs_loss(kind):
    # For a strictly convex cost with Hessian eigenvalues >= m near its
    # minimum J*, J - J* <= |D|^2 / (2 m) <= n max|D|^2 / (2 m): the losses
    # of two runs differ by at most the sum of their bounds (doubled: m is
    # measured at one of the two points).
    Estimator, X, y, Y = _strictly_convex(kind)
    common = dict(hidden_layer_sizes=(), alpha=1.0, max_iter=5000, random_state=0)
    reference = Estimator(solver="L-BFGS-B", tol=1e-10, **common).fit(X, y)
    # A tol below the default delta_min's reach (1e-6 times the curvature).
    options = {"delta_min": 1e-12}
    est = Estimator(solver="rprop", tol=1e-7, solver_options=options, **common)
    est.fit(X, y)
    assert est.optimize_result_.success and est.optimize_result_.status == 0
    m = _min_eigenvalue(reference, X, Y)
    assert m > 0
    bound = 0.0
    for fit in (reference, est):
        J, D = _cost(fit, X, Y)
        assert fit.loss_ == pytest.approx(J, rel=1e-12)
        bound += 2 * D.size * np.max(np.abs(D)) ** 2 / (2 * m)
    bound += 8 * np.finfo(float).eps * reference.loss_
    assert np.max(np.abs(_cost(est, X, Y)[1])) <= 1e-7
    assert abs(est.loss_ - reference.loss_) <= bound


def test_the_step_floor_limits_the_gradient_test():
    Estimator, X, y, _ = _strictly_convex("regression")
    est = Estimator((), solver="rprop", alpha=1.0, tol=1e-9, max_iter=300)
    with pytest.warns(ConvergenceWarning, match=r"lower solver_options\['delta_min'\]"):
        est.fit(X, y)
    est.set_params(solver_options={"delta_min": 1e-12}).fit(X, y)
    assert est.optimize_result_.success and est.n_iter_ < 300


def test_small_network_converges():
    X, y = _classification()
    est = BackpropClassifier(
        (8,), "tanh", solver="rprop", random_state=0, tol=1e-5, max_iter=3000
    ).fit(X, y)
    J, D = _cost(est, X, np.eye(3)[y])
    assert est.optimize_result_.success and np.max(np.abs(D)) <= 1e-5
    assert est.loss_ == J == est.loss_curve_[-1]
    assert est.score(X, y) > 0.9


def test_bit_reproducible():
    X, y = _classification()
    fits = [
        BackpropClassifier((5,), solver="rprop", max_iter=30, random_state=3).fit(X, y)
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
    est.set_params(hidden_layer_sizes=(4,), solver="rprop", max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.loss_function_.name == loss
    assert est.loss_ < est.loss_curve_[0] and est.loss_ == est.loss_curve_[-1]


def test_float32_and_sparse_data():
    import scipy.sparse as sp

    X, y = _classification()
    dense = BackpropClassifier((5,), solver="rprop", max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        f32 = dense.fit(X.astype(np.float32), y)
        assert f32.coefs_[0].dtype == np.float32 and np.isfinite(f32.loss_)
        a = BackpropClassifier((5,), solver="rprop", max_iter=20, random_state=0)
        b = BackpropClassifier((5,), solver="rprop", max_iter=20, random_state=0)
        a.fit(X, y)
        b.fit(sp.csr_matrix(X), y)
    # The same sums in another order: the same signs, the same path.
    np.testing.assert_allclose(_params(a), _params(b), rtol=0, atol=1e-12)


class _InterruptAt:
    """``InMemoryObjective.cost_grad`` whose ``k``-th call evaluates, then
    raises KeyboardInterrupt (a Ctrl-C just after an evaluation returned)."""

    def __init__(self, monkeypatch, k):
        self.count, self.k = 0, k
        real = InMemoryObjective.cost_grad

        def wrapped(objective, theta):
            value = real(objective, theta)
            self.count += 1
            if self.count == self.k:
                raise KeyboardInterrupt
            return value

        monkeypatch.setattr(InMemoryObjective, "cost_grad", wrapped)


def _check_consistent(est, X, y):
    J, _ = _cost(est, X, np.eye(3)[y])
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_ == pytest.approx(J, rel=1e-12, abs=1e-14)
    if est.n_iter_:
        assert est.loss_curve_[-1] == pytest.approx(J, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_an_interrupt_anywhere_keeps_weights_and_loss_together(monkeypatch, k):
    X, y = _classification()
    est = BackpropClassifier((4,), "tanh", solver="rprop", max_iter=20, random_state=0)
    _InterruptAt(monkeypatch, k)
    with pytest.warns(ConvergenceWarning, match="interrupted"):
        try:
            est.fit(X, y)
        except KeyboardInterrupt:  # in the final evaluation: nothing kept
            assert not hasattr(est, "coefs_")
            return
    monkeypatch.undo()
    assert est.n_iter_ == k - 2 if k > 1 else est.n_iter_ == 0
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
        (4,), "tanh", solver="rprop", callback=callback, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == 3
    _check_consistent(est, X, y)
    assert est.optimize_result_.status == 3 and not est.optimize_result_.success


def test_non_finite_cost_keeps_the_last_finite_iterate():
    # J overflows below x = 0.4: x takes steps 0.07, 0.084, 0.1008, 0.12096,
    # 0.145152 from 1, and its sixth iterate, 0.358, is the first beyond.
    objective = _Function(lambda t: 0.5 * t @ t if t[0] >= 0.4 else np.nan, lambda t: t)
    with pytest.warns(ConvergenceWarning, match="non-finite.*delta0 and delta_max"):
        result, iterates = _run(objective, [1.0, 2.0], tol=0.0, max_iter=10)
    assert result.n_iter == 5 and result.status == "diverged"
    np.testing.assert_array_equal(result.theta, iterates[-1])
    np.testing.assert_allclose(iterates[-1, 0], 1 - 0.07 * (1.2**5 - 1) / 0.2)
    assert result.loss == 0.5 * iterates[-1] @ iterates[-1]


def test_non_finite_gradient_is_divergence():
    objective = _Function(lambda t: 0.5 * t @ t, lambda t: [np.inf, t[1]])
    with pytest.warns(ConvergenceWarning, match="gradient became non-finite"):
        result, _ = _run(objective, [1.0, 2.0], tol=0.0, max_iter=10)
    assert result.n_iter == 0 and result.status == "diverged"


def test_non_finite_start_raises():
    objective = _Function(lambda t: np.inf, lambda t: t)
    with pytest.raises(ValueError, match="non-finite.*starting parameters"):
        _run(objective, [1.0, 2.0])


@pytest.mark.parametrize(
    "options, match",
    [
        ({"eta": 1.2}, r"\['eta'\] are not options of solver='rprop'"),
        ({"delta0": True}, "positive finite number"),
        ({"delta0": "0.1"}, "positive finite number"),
        ({"delta_min": 0.0}, "positive finite number"),
        ({"delta_max": np.inf}, "positive finite number"),
        ({"eta_plus": 1.0}, "eta_plus must be above 1"),
        ({"eta_minus": 1.0}, "eta_minus must be below 1"),
        ({"delta0": 100.0}, "delta_min <= delta0 <= delta_max"),
        ({"delta_min": 0.1}, "delta_min <= delta0 <= delta_max"),
    ],
)
def test_bad_options_raise_and_leave_the_estimator_unchanged(options, match):
    X, y = _classification()
    est = BackpropClassifier((3,), solver="rprop", solver_options=options)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
    assert rprop.rprop_options(None) == rprop.DEFAULTS


def test_curvature_does_not_apply():
    X, y = _classification()
    with pytest.raises(ValueError, match="curvature='gauss-newton' needs"):
        BackpropClassifier(solver="rprop", curvature="gauss-newton").fit(X, y)


def test_verbose_ends_with_one_closing_line(capsys):
    X, y = _classification()
    est = BackpropClassifier((), solver="rprop", verbose=True, random_state=0)
    est.fit(X, y)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (
        "rprop stopped (converged): max|D| <= tol. Kept its final parameters, "
        f"loss {est.loss_:.8f}."
    )


def test_dask_objective_takes_the_same_path():
    da = pytest.importorskip("dask.array")
    X, y = _classification(n=150)
    sw = np.random.default_rng(1).uniform(0.2, 2.0, size=150)
    params = dict(solver="rprop", max_iter=15, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        memory = BackpropClassifier((5,), "tanh", **params).fit(X, y, sample_weight=sw)
        dask_fit = BackpropClassifier((5,), "tanh", **params).fit(
            da.from_array(X, chunks=(40, 3)),
            da.from_array(y, chunks=50),
            sample_weight=da.from_array(sw, chunks=30),
        )
    # The blocks sum in another order: the same signs, hence the same steps.
    assert dask_fit.n_iter_ == memory.n_iter_ == 15
    np.testing.assert_allclose(_params(dask_fit), _params(memory), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dask_fit.loss_curve_, memory.loss_curve_, rtol=1e-12)


def test_runs_inside_the_evidence_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=80)
    est = BackpropRegressor(
        (4,), "tanh", solver="rprop", alpha="evidence", max_iter=500, random_state=0
    ).fit(X, y)
    assert np.isfinite(est.alpha_) and est.alpha_ > 0
    assert len(est.evidence_curve_) >= 2
