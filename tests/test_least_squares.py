"""SciPy's least_squares on the network's residuals: ``solver="least_squares"``."""

import inspect
import pickle
import warnings

import numpy as np
import pytest
from scipy.optimize import least_squares
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

from skbackprop import BackpropClassifier, BackpropRegressor, cost_grad
from skbackprop._engine.network import Network
from skbackprop._training import solve
from skbackprop._training.objective import InMemoryObjective
from skbackprop._training.progress import Progress
from skbackprop._training.settings import Settings
from skbackprop._training.solvers import least_squares as lsq


def _regression(n=60, n_outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3))
    Y = np.stack(
        [np.sin(2 * X[:, 0] + k) + X[:, 1] * X[:, 2] for k in range(n_outputs)],
        axis=1,
    )
    Y += 0.05 * rng.normal(size=Y.shape)
    return X, Y[:, 0] if n_outputs == 1 else Y


def _params(est):
    return np.concatenate([p.ravel() for p in est.coefs_ + est.intercepts_])


@pytest.mark.parametrize("weighted", [False, True])
def test_residuals_and_their_jacobian(monkeypatch, weighted, seed):
    X, Y = _regression(n=20, n_outputs=2, seed=seed)
    sw = np.random.default_rng(seed + 1).uniform(0, 2, 20) if weighted else None
    net = Network((3, 4, 2), "tanh", "squared_error")
    objective = InMemoryObjective(net, X, Y, sw, 0.3)
    residuals = lsq.Residuals(objective)
    theta = np.random.default_rng(seed + 2).normal(size=net.n_params)
    r = residuals(theta)
    assert r.shape == (20 * 2 + net.n_coefs,)
    # 1/2 |r|^2 is the package's cost.
    assert 0.5 * r @ r == pytest.approx(objective.cost_grad(theta)[0], rel=1e-13)
    # The dense Jacobian against central differences of r.
    Jac = residuals.jacobian(theta)
    h = 1e-6
    fd = np.column_stack(
        [
            (residuals(theta + h * e) - residuals(theta - h * e)) / (2 * h)
            for e in np.eye(net.n_params)
        ]
    )
    np.testing.assert_allclose(Jac, fd, rtol=0, atol=1e-8)
    # The matrix-free operator's products equal the dense matrix's.
    monkeypatch.setattr(lsq, "DENSE_BYTES", 0)
    operator = lsq.Residuals(objective).jacobian(theta)
    rng = np.random.default_rng(seed + 3)
    v, u = rng.normal(size=net.n_params), rng.normal(size=r.size)
    np.testing.assert_allclose(operator.matvec(v), Jac @ v, rtol=0, atol=1e-13)
    np.testing.assert_allclose(operator.rmatvec(u), Jac.T @ u, rtol=0, atol=1e-13)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_linear_model_is_ridge_regression(weighted, method, seed):
    # No hidden layer: J is ridge regression's objective, with the intercept
    # unpenalized; every method reaches its unique minimum.
    X, y = _regression(seed=seed)
    sw = np.random.default_rng(seed).uniform(0.5, 2, 60) if weighted else None
    est = BackpropRegressor(
        (),
        solver="least_squares",
        alpha=2.0,
        tol=1e-12,
        solver_options={"method": method},
    ).fit(X, y, sample_weight=sw)
    ridge = Ridge(alpha=2.0).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(est.coefs_[0].ravel(), ridge.coef_, atol=1e-8)
    np.testing.assert_allclose(est.intercepts_[0], [ridge.intercept_], atol=1e-8)


def test_matrix_free_operator_matches_the_dense_fit(monkeypatch, seed):
    X, Y = _regression(n_outputs=2, seed=seed)
    params = dict(activation="tanh", solver="least_squares", alpha=0.01, tol=1e-10)
    # The same trust-region solver, LSMR, on the dense matrix and the operator:
    # the same iterates up to rounding, which the two products do in another
    # order, so the fits may take a few iterations more or fewer.
    dense = BackpropRegressor(
        (4,), random_state=seed, solver_options={"tr_solver": "lsmr"}, **params
    ).fit(X, Y)
    monkeypatch.setattr(lsq, "DENSE_BYTES", 0)
    operator = BackpropRegressor((4,), random_state=seed, **params).fit(X, Y)
    assert dense.optimize_result_.success and operator.optimize_result_.success
    # Both stop near the same minimum F* of F = J = 1/2 |r|^2: SciPy stops
    # when a step lowers F by less than ftol F, and at a linear rate of at
    # most 0.9 the gap left is at most 9 times that step.  So F - F* <= delta
    # for both, and in the Gauss-Newton model 1/2 |r(theta) - r(theta*)|^2
    # is that gap: the rows' residuals a_i - y_i (scaled by 1/sqrt(m)) of the
    # two fits differ by at most 2 sqrt(2 delta).
    ftol = inspect.signature(least_squares).parameters["ftol"].default
    delta = 10 * ftol * dense.loss_
    assert abs(operator.loss_ - dense.loss_) <= delta
    gap = operator.predict(X) - dense.predict(X)
    assert np.sqrt(np.sum(gap**2) / len(X)) <= 2 * np.sqrt(2 * delta)
    for options in ({"method": "lm"}, {"tr_solver": "exact"}):
        with pytest.raises(ValueError, match=r"LinearOperator.*tr_solver='lsmr'"):
            operator.set_params(solver_options=options).fit(X, Y)


def test_loss_is_the_package_cost_and_the_robust_loss_resists_outliers(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (100, 1))
    y = 3 * X.ravel() - 1 + 0.05 * rng.normal(size=100)
    # Ten outliers that pull the least-squares slope up, whatever the draw:
    # by 5 sum|x_i| / sum x_i^2 (about 0.75) of the 100 rows.
    y[:10] += 5.0 * np.sign(X[:10, 0])
    params = dict(solver="least_squares", alpha=0.0, tol=1e-10)
    plain = BackpropRegressor((), **params).fit(X, y)
    robust = BackpropRegressor(
        (), solver_options={"loss": "soft_l1", "f_scale": 0.1}, **params
    ).fit(X, y)
    slope_error = [abs(e.coefs_[0].item() - 3) for e in (plain, robust)]
    assert slope_error[1] < 0.05 < slope_error[0]
    # loss_ is J (half the mean squared error), not SciPy's robust cost.
    J = cost_grad(_params(robust), X, y, (1, 1), "relu", "squared_error")[0]
    assert robust.loss_ == pytest.approx(J, rel=1e-12)
    assert robust.loss_ > plain.loss_
    assert robust.optimize_result_.cost < robust.loss_


def test_f_scale_is_in_the_targets_units(seed):
    # Equal to SciPy's fit of the plain residuals a_i - y_i with that f_scale.
    rng = np.random.default_rng(seed + 1)
    X = rng.uniform(-1, 1, (50, 2))
    y = X @ [1.0, -2.0] + 0.5 + rng.standard_t(1.5, 50) * 0.2
    options = {"loss": "huber", "f_scale": 0.3}
    est = BackpropRegressor(
        (), solver="least_squares", alpha=0.0, tol=1e-12, solver_options=options
    ).fit(X, y)

    def residuals(w):
        return X @ w[:2] + w[2] - y

    direct = least_squares(residuals, np.zeros(3), gtol=1e-12, **options)
    np.testing.assert_allclose(_params(est), direct.x, atol=1e-7)


def test_other_losses_and_dask_are_refused():
    X, y = _regression(n=20)
    with pytest.raises(ValueError, match=r"squared-error regression only.*solver='lm'"):
        BackpropClassifier(solver="least_squares").fit(X, y > 0)
    with pytest.raises(ValueError, match=r"loss='poisson'.*solver='lm'"):
        BackpropRegressor(solver="least_squares", loss="poisson").fit(X, np.abs(y))


@pytest.mark.parametrize(
    "options, match",
    [
        ({"maxiter": 3}, r"not options of solver='least_squares'.*accepts"),
        ({"method": "bfgs"}, "must be 'trf', 'dogbox' or 'lm'"),
        ({"f_scale": -1.0}, "f_scale'] must be a positive number"),
    ],
)
def test_bad_options_raise(options, match):
    X, y = _regression(n=20)
    est = BackpropRegressor((3,), solver="least_squares", solver_options=options)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("method", ["trf", "lm"])
def test_progress_callback_and_iteration_limit(method, capsys, seed):
    X, y = _regression(seed=seed)
    seen = []

    def callback(state):
        seen.append(state.fun)
        return state.nit == 4

    est = BackpropRegressor(
        (4,),
        "tanh",
        solver="least_squares",
        solver_options={"method": method},
        callback=callback,
        verbose=True,
        random_state=seed,
    ).fit(X, y)
    assert est.n_iter_ == 4 and seen == est.loss_curve_
    assert est.optimize_result_.status == -2
    assert "Iteration 4, loss" in capsys.readouterr().out
    # The curve records J at every iterate, and decreases.
    assert np.all(np.diff(est.loss_curve_) < 0)
    with pytest.warns(ConvergenceWarning, match="did not converge after 2 iter"):
        BackpropRegressor(
            (4,),
            "tanh",
            solver="least_squares",
            solver_options={"method": method},
            max_iter=2,
            tol=0,
        ).fit(X, y)


def test_early_stopping_and_pickling(seed):
    X, y = _regression(n=150, seed=seed)
    est = BackpropRegressor(
        (20,),
        "tanh",
        solver="least_squares",
        alpha=0.0,
        tol=0.0,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=seed,
    ).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert "jac" not in est.optimize_result_
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict(X), est.predict(X))


def test_non_finite_start_raises():
    # Finite residuals whose squares overflow: J is inf at the start, so
    # there is no model to return (as in scikit-learn) and nothing changes.
    X, y = _regression(n=20)
    est = BackpropRegressor((), solver="least_squares")
    with pytest.raises(ValueError, match="non-finite"):
        est.fit(X, y * 1e200)
    assert not hasattr(est, "coefs_")


def test_an_overflowing_iterate_keeps_the_last_finite_one(monkeypatch, seed):
    X, y = _regression(seed=seed)
    net = Network((3, 4, 1), "tanh", "squared_error")
    objective = InMemoryObjective(net, X, y[:, None], None, 0.0)
    theta0 = np.random.default_rng(seed).normal(size=net.n_params)

    class OverflowAt3(Progress):
        """Progress whose third iterate reports a non-finite loss."""

        def __call__(self, theta, loss):
            super().__call__(theta, np.inf if self.n_iter + 1 == 3 else loss)

    with monkeypatch.context() as patch:
        patch.setattr(solve, "Progress", OverflowAt3)
        with pytest.warns(ConvergenceWarning, match="became non-finite"):
            cut = solve.train(objective, theta0.copy(), Settings("least_squares"), None)
    with pytest.warns(ConvergenceWarning, match="after 2 iteration"):
        two = solve.train(
            objective, theta0.copy(), Settings("least_squares", max_iter=2), None
        )
    np.testing.assert_array_equal(cut.theta, two.theta)
    assert cut.n_iter == two.n_iter == 2 and cut.loss_curve == two.loss_curve
    assert cut.loss == objective.cost_grad(cut.theta)[0]
    assert cut.optimize_result.status == -2 and not cut.optimize_result.success


def test_max_fun_limits_the_evaluations():
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="evaluations"):
            BackpropRegressor(
                (6,), "tanh", solver="least_squares", max_fun=3, tol=0
            ).fit(X, y)
