"""Levenberg-Marquardt: ``solver="lm"``, its damping, options and stopping."""

import contextlib
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skbackprop import BackpropClassifier, BackpropRegressor, cost_grad
from skbackprop._engine.network import Network
from skbackprop._training.objective import InMemoryObjective
from skbackprop._training.settings import Settings
from skbackprop._training.solve import train
from skbackprop._training.solvers import lm


def _regression(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return X, y


def _classification(n=90, seed=0, n_classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] ** 2, [-0.3, 0.8][: n_classes - 1])
    return X, y


def _params(est):
    return np.concatenate([p.ravel() for p in est.coefs_ + est.intercepts_])


def test_converges_to_a_stationary_point_with_a_decreasing_loss(seed):
    X, y = _regression()
    est = BackpropRegressor((6,), "tanh", solver="lm", alpha=1e-3, tol=1e-8)
    est.set_params(random_state=seed).fit(X, y)
    result = est.optimize_result_
    assert result.success and result.status == 1
    assert np.max(np.abs(result.jac)) <= 1e-8
    assert est.n_iter_ == result.nit == len(est.loss_curve_) < 200
    # Only steps that lower the cost are taken.
    assert np.all(np.diff(est.loss_curve_) < 0)
    # loss_ is the package's cost at the fitted weights.
    sizes = (2, 6, 1)
    J = cost_grad(_params(est), X, y, sizes, "tanh", "squared_error", 1e-3)[0]
    assert est.loss_ == pytest.approx(J, rel=1e-12)
    assert est.loss_ == est.loss_curve_[-1]


def test_reaches_lower_loss_than_lbfgs_in_fewer_iterations(seed):
    X, y = _regression(n=150)
    common = dict(activation="tanh", alpha=0.0, tol=0.0, random_state=seed)
    lbfgs = BackpropRegressor((8,), solver="L-BFGS-B", max_iter=100, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lbfgs.fit(X, y)
        fit = BackpropRegressor((8,), solver="lm", max_iter=30, **common).fit(X, y)
    assert fit.loss_ < lbfgs.loss_


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier(n_classes, seed):
    X, y = _classification(n_classes=n_classes)
    est = BackpropClassifier((5,), "tanh", solver="lm", random_state=seed).fit(X, y)
    assert est.optimize_result_.success
    assert est.score(X, y) > 0.9
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_multilabel_and_poisson(seed):
    X, _ = _classification()
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0], axis=1).astype(int)
    est = BackpropClassifier((5,), "tanh", solver="lm", random_state=seed).fit(X, Y)
    assert est.score(X, Y) > 0.8
    counts = np.random.default_rng(seed).poisson(np.exp(0.5 * X[:, 0]))
    reg = BackpropRegressor(
        (4,), "tanh", solver="lm", loss="poisson", tol=1e-3, random_state=seed
    ).fit(X, counts)
    assert reg.optimize_result_.success
    assert np.all(reg.predict(X) > 0)


def test_bit_reproducible_and_warm_start(seed):
    X, y = _regression()
    params = dict(activation="tanh", solver="lm", max_iter=15, random_state=seed + 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = BackpropRegressor((5,), **params).fit(X, y)
        b = BackpropRegressor((5,), **params).fit(X, y)
        np.testing.assert_array_equal(_params(a), _params(b))
        assert a.loss_curve_ == b.loss_curve_
        a.set_params(warm_start=True).fit(X, y)
    assert a.loss_ < b.loss_


@pytest.mark.parametrize("damping", ["trainlm", "nielsen"])
def test_dampings_and_sample_weights(damping, seed):
    # Integer weights are repeated rows: the same cost, hence the same path.
    X, y = _regression(n=40)
    sw = np.random.default_rng(seed).integers(0, 3, 40)
    params = dict(
        activation="tanh",
        solver="lm",
        alpha=0.1,
        tol=1e-9,
        random_state=seed,
        solver_options={"damping": damping, "mu": 0.01},
    )
    weighted = BackpropRegressor((4,), **params).fit(X, y, sample_weight=sw)
    repeated = BackpropRegressor((4,), **params).fit(
        np.repeat(X, sw, axis=0), np.repeat(y, sw)
    )
    assert weighted.optimize_result_.success
    np.testing.assert_allclose(_params(weighted), _params(repeated), atol=1e-6)


def test_float32_data(seed):
    X, y = _regression()
    est = BackpropRegressor((4,), "tanh", solver="lm", random_state=seed)
    est.fit(X.astype(np.float32), y.astype(np.float32))
    assert est.coefs_[0].dtype == np.float32
    assert est.optimize_result_.success


@pytest.mark.parametrize(
    "options, match",
    [
        ({"maxiter": 3}, r"not options of solver='lm'.*accepts"),
        ({"mu": 0.0}, "positive finite number"),
        ({"mu": "big"}, "positive finite number"),
        ({"mu_max": np.inf}, "positive finite number"),
        ({"damping": "trainlm", "mu_dec": 2.0}, "mu_dec must be below 1"),
        ({"damping": "trainlm", "mu_inc": 0.5}, "mu_inc must be at least 1.5"),
        ({"mu_dec": 0.5}, r"add damping='trainlm'"),
        ({"mu": 10.0, "mu_max": 1.0}, "must be at least mu"),
        ({"damping": "more"}, r"damping.*must be one of"),
        ({"damping": "nielsen", "mu_inc": 3.0}, "set the 'trainlm' damping"),
        ({"damping": "trainlm", "mu_inc": 3.0, "mu_dec": 0.5, "mu": 2.0}, None),
        ({"geodesic": "yes"}, r"geodesic'\] must be True, False or 'auto'"),
        ({"geodesic": 1}, r"geodesic'\] must be True, False or 'auto'"),
        ({"geodesic": "auto", "geodesic_ratio": 1.0}, None),
        ({"geodesic": True, "geodesic_ratio": 0.0}, "positive finite number"),
        ({"geodesic": True, "geodesic_ratio": np.nan}, "positive finite number"),
        ({"geodesic": False, "geodesic_ratio": 1.0}, "add geodesic=True"),
        ({"geodesic": True, "geodesic_ratio": 2.0}, None),
    ],
)
def test_bad_options_raise_and_leave_the_estimator_unchanged(options, match, seed):
    X, y = _regression(n=30)
    est = BackpropRegressor((3,), solver="lm", random_state=seed).fit(X, y)
    before = _params(est)
    est.set_params(solver_options=options)
    if match is None:  # valid: a fit that changes the weights
        est.fit(X[:20], y[:20])
        assert not np.array_equal(_params(est), before)
        return
    with pytest.raises(ValueError, match=match):
        est.fit(X[:20], y[:20])
    np.testing.assert_array_equal(_params(est), before)


@pytest.mark.parametrize(
    "loss, kind",
    [
        ("squared_error", "regression"),
        ("poisson", "counts"),
        ("log_loss", "multiclass"),
        ("binary_log_loss", "binary"),
    ],
)
def test_geodesic_acceleration_for_every_loss(loss, kind, seed):
    # Every loss lm trains: accelerated steps are taken (ngev counts the
    # acceleration passes), the loss decreases and the fit is reproducible
    # bit for bit.
    X, y = _regression(n=60) if kind in ("regression", "counts") else (None, None)
    if kind == "counts":
        y = np.round(np.exp(y))
    elif kind != "regression":
        X, y = _classification(n_classes=3 if kind == "multiclass" else 2)
    sw = np.random.default_rng(seed).uniform(0.5, 2.0, len(y))
    Estimator = BackpropClassifier if kind in ("multiclass", "binary") else None
    params = dict(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="lm",
        alpha=1e-3,
        max_iter=15,
        random_state=seed,
        solver_options={"geodesic": True},
    )
    if Estimator is None:
        Estimator = BackpropRegressor
        params["loss"] = loss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [Estimator(**params).fit(X, y, sample_weight=sw) for _ in range(2)]
        plain = Estimator(**dict(params, solver_options={"geodesic": False}))
        plain.fit(X, y, sample_weight=sw)
    a, b = fits
    np.testing.assert_array_equal(_params(a), _params(b))
    assert a.loss_curve_ == b.loss_curve_
    assert np.all(np.diff(a.loss_curve_) < 0)
    assert a.optimize_result_.ngev >= a.n_iter_ > 0
    assert plain.optimize_result_.ngev == 0
    assert not np.array_equal(_params(a), _params(plain))


@pytest.mark.parametrize(
    "activation, accelerated",
    [
        ("tanh", True),
        ("softplus", True),
        ("relu", False),
        ("leaky_relu", False),
        (["tanh", "relu"], False),
    ],
)
def test_geodesic_auto_follows_the_activations(activation, accelerated, seed):
    # The default "auto": on when every hidden activation has a continuous
    # first derivative, off when a kinked one makes the Jacobian jump.
    X, y = _regression(n=60)
    hidden = (4,) if isinstance(activation, str) else (4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = BackpropRegressor(
            hidden, activation, solver="lm", max_iter=5, random_state=seed
        ).fit(X, y)
    assert (reg.optimize_result_.ngev > 0) is accelerated


def test_geodesic_step_uses_the_velocitys_factor():
    # On a quadratic objective r_vv = 0: the acceleration is zero and the
    # accelerated run is the plain one.
    plain = _run(
        _Quadratic(c=0.5), [3.0, -2.0], tol=1e-10, solver_options={"geodesic": False}
    )
    accel = _run(
        _Quadratic(c=0.5), [3.0, -2.0], tol=1e-10, solver_options={"geodesic": True}
    )
    np.testing.assert_array_equal(plain[0], accel[0])
    assert accel[2].ngev == accel[2].nfev - 1 and plain[2].ngev == 0


def test_curvature_does_not_apply():
    X, y = _regression(n=30)
    with pytest.raises(ValueError, match="curvature='gauss-newton' needs"):
        BackpropRegressor(solver="lm", curvature="gauss-newton").fit(X, y)


def test_large_networks_are_refused(monkeypatch):
    monkeypatch.setattr(lm, "MAX_PARAMS", 20)
    X, y = _regression(n=30)
    with pytest.raises(ValueError, match=r"trust-ncg.*curvature='gauss-newton'"):
        BackpropRegressor((8,), solver="lm").fit(X, y)


def test_callback_verbose_and_iteration_limit(capsys, seed):
    X, y = _regression()
    seen = []

    def callback(state):
        seen.append(state.fun)
        return state.nit == 3

    est = BackpropRegressor(
        (5,), "tanh", solver="lm", callback=callback, verbose=True, random_state=seed
    ).fit(X, y)
    assert est.n_iter_ == 3 and seen == est.loss_curve_
    assert est.optimize_result_.status == 3
    assert "Iteration 3, loss" in capsys.readouterr().out
    with pytest.warns(ConvergenceWarning, match="lm did not converge after 2"):
        est = BackpropRegressor((5,), "tanh", solver="lm", max_iter=2, tol=0)
        assert "iterations" in est.fit(X, y).optimize_result_.message
    # max_fun is checked between iterations.
    with pytest.warns(ConvergenceWarning, match="lm did not converge"):
        est = BackpropRegressor((5,), "tanh", solver="lm", max_fun=3, tol=0)
        result = est.fit(X, y).optimize_result_
    assert result.nfev >= 3 and "cost evaluations" in result.message


def test_early_stopping_keeps_the_best_validation_score(seed):
    X, y = _regression(n=200)
    est = BackpropRegressor(
        (30,),
        "tanh",
        solver="lm",
        alpha=0.0,
        tol=0.0,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=200,
        random_state=seed,
    ).fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ < 200
    assert est.best_validation_score_ == max(scores)


def test_stops_when_no_step_lowers_the_loss(seed):
    # With tol=0 a converged fit ends when mu passes mu_max: a minimum to
    # working precision, reported as success without a warning.
    X = np.linspace(-1, 1, 20)[:, None]
    noise = np.random.default_rng(seed).normal(scale=0.1, size=20)
    y = (
        2 * X.ravel()
        + 1
        + noise
        - noise.mean()
        - X.ravel() * (noise @ X.ravel()) / (X.ravel() @ X.ravel())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = BackpropRegressor(
            (), solver="lm", alpha=0.0, tol=0.0, solver_options={"mu_max": 1e3}
        ).fit(X, y)
    result = est.optimize_result_
    assert result.status == 2 and result.success and result.mu > 1e3
    np.testing.assert_allclose(est.coefs_[0].ravel(), [2.0], atol=1e-8)
    np.testing.assert_allclose(est.intercepts_[0], [1.0], atol=1e-8)


def test_fitted_estimator_pickles(seed):
    X, y = _classification()
    est = BackpropClassifier((4,), solver="lm", max_iter=5, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict_proba(X), est.predict_proba(X))


class _Quadratic:
    """``J = |theta - 1|^2 / 2`` with ``G = c I`` (``c = 1``: exact); ``J``
    overflows beyond ``far``, and ``G`` is non-finite from the
    ``bad_after``-th evaluation on."""

    net = Network((1, 1), "identity", "squared_error")
    alpha, n_samples, weight_sum = 0.0, 1, 1.0

    def __init__(self, bad_after=None, far=np.inf, c=1.0):
        self.bad_after, self.far, self.calls, self.c = bad_after, far, 0, c

    def cost(self, theta):
        if np.abs(theta).max() > self.far:
            return np.inf
        return 0.5 * float(np.sum((theta - 1) ** 2))

    def geodesic(self, theta, v):
        return np.zeros_like(theta)  # J linear in theta: r_vv = 0

    def threads(self, batch_size=None, between=True):
        return contextlib.nullcontext()

    def gauss_newton(self, theta):
        self.calls += 1
        G = self.c * np.eye(theta.size)
        if self.bad_after is not None and self.calls > self.bad_after:
            G[0, 0] = np.nan
        return self.cost(theta), theta - 1, G


def _run(objective, theta, **settings):
    """The solver through train: the parameters kept, the loss there and the
    run's OptimizeResult."""
    s = Settings(solver="lm", **settings)
    result = train(objective, np.asarray(theta, float), s, None)
    return result.theta, result.loss, result.optimize_result


def test_overflowing_trials_are_rejected():
    # G a hundred times too small: the first steps overshoot past far, where
    # J is inf; they are rejected and mu grows until a step lands.
    objective = _Quadratic(far=30.0, c=0.01)
    theta, J, result = _run(objective, [-1.0, 0.0], tol=1e-10)
    np.testing.assert_allclose(theta, [1.0, 1.0], atol=1e-9)
    assert result.success and result.nfev > result.njev + 1


def test_non_finite_gauss_newton_keeps_the_last_finite_weights():
    with pytest.warns(ConvergenceWarning, match="non-finite"):
        theta, J, result = _run(
            _Quadratic(bad_after=1), [5.0, 5.0], tol=0.0, max_iter=50
        )
    assert result.status == 4 and not result.success
    assert np.isfinite(theta).all() and J == _Quadratic().cost(theta)


def test_non_finite_start_raises():
    # Not even the starting parameters have a finite cost: no model to keep.
    with pytest.raises(ValueError, match="non-finite"):
        _run(_Quadratic(far=1.0), [5.0, 5.0])


def test_interrupt_keeps_the_last_iterate(seed):
    X, y = _regression()

    def callback(state):
        if state.nit == 2:
            raise KeyboardInterrupt

    with pytest.warns(ConvergenceWarning, match="interrupted"):
        est = BackpropRegressor(
            (4,), "tanh", solver="lm", callback=callback, random_state=seed
        ).fit(X, y)
    assert est.n_iter_ == 2 and est.loss_ == est.loss_curve_[-1]


def test_in_memory_objective_serves_lm(seed):
    X, y = _regression(n=25)
    net = Network((2, 3, 1), "tanh", "squared_error")
    objective = InMemoryObjective(net, X, y[:, None], None, 0.1)
    theta = np.random.default_rng(seed).normal(size=net.n_params)
    J, D, G = objective.gauss_newton(theta)
    J0, D0 = objective.cost_grad(theta)
    assert objective.cost(theta) == pytest.approx(J0, rel=1e-13)
    assert J == pytest.approx(J0, rel=1e-13)
    np.testing.assert_allclose(D, D0, atol=1e-14)
    assert G.shape == (net.n_params, net.n_params)


def test_rejected_trials_count_against_max_fun():
    # Every trial overflows (far=1e-9): each is rejected and costs a cost
    # evaluation; max_fun bounds them all, not only the accepted ones.
    objective = _Quadratic(far=1e-9)
    with pytest.warns(ConvergenceWarning, match="cost evaluations"):
        _, _, result = _run(objective, [1e-10, 0.0], max_fun=10, tol=0.0)
    assert result.nfev <= 10 and result.nit == 0


def test_a_growth_of_mu_barely_above_one_is_refused():
    # mu_inc = 1.000001 took minutes of rejected trials to reach mu_max.
    X, y = _regression()
    est = BackpropRegressor(
        (3,),
        "tanh",
        solver="lm",
        solver_options={"damping": "trainlm", "mu_inc": 1.000001},
    )
    with pytest.raises(ValueError, match="mu_inc must be at least 1.5"):
        est.fit(X, y)
