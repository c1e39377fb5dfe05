"""Losses as registered objects (``_engine/losses/``): the robust and quantile
losses' formulas, gradients, curvature, their fits, and the registry."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skbackprop import (
    BackpropRegressor,
    check_gradient,
    cost_grad,
    hessian_vector_product,
    init_params,
)
from skbackprop._engine import losses
from skbackprop._engine.losses import get_loss, huberized, target_scale
from skbackprop.losses import AbsoluteError, HuberLoss, PinballLoss

NEW = [HuberLoss(delta=0.7), AbsoluteError(delta=0.3), PinballLoss(0.8, delta=0.2)]


def _problem(m=40, n=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    Y = rng.normal(size=(m, k)) * 2
    return X, Y


def _exact(loss, R):
    """The loss of residuals R = z - y, written out per entry."""
    d = loss.delta
    if isinstance(loss, HuberLoss):
        return np.where(np.abs(R) <= d, 0.5 * R**2, d * (np.abs(R) - 0.5 * d))
    h = np.where(np.abs(R) <= d, R**2 / (2 * d), np.abs(R) - d / 2)
    if isinstance(loss, PinballLoss):
        return np.where(R > 0, 1 - loss.quantile, loss.quantile) * h
    return h


@pytest.mark.parametrize("loss", NEW, ids=repr)
def test_row_loss_and_signal_are_the_formulas(loss):
    rng = np.random.default_rng(0)
    Z, Y = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    R = Z - Y
    np.testing.assert_allclose(loss.row_loss(Z, Y), _exact(loss, R).sum(1), rtol=1e-14)
    # The signal is the derivative in z: central differences of the formula.
    h = 1e-6
    numeric = (_exact(loss, R + h) - _exact(loss, R - h)) / (2 * h)
    away = np.abs(np.abs(R) - loss.delta) > 1e-4  # not at the seams
    signal = Z.copy()
    row = loss.loss_signal(signal, Y)
    np.testing.assert_allclose(row, loss.row_loss(Z, Y), rtol=1e-15)
    np.testing.assert_allclose(signal[away], numeric[away], atol=1e-8)
    np.testing.assert_allclose(loss.signal(Z, Y), signal, rtol=1e-15)


@pytest.mark.parametrize("loss", [AbsoluteError(delta=0.3), PinballLoss(0.2, 0.3)])
def test_the_rounding_stays_within_half_its_width(loss):
    R = np.linspace(-3, 3, 1001)[:, None]
    exact = np.abs(R) * (
        1.0 if isinstance(loss, AbsoluteError) else np.where(R > 0, 0.8, 0.2)
    )
    gap = exact.ravel() - loss.row_loss(R, np.zeros_like(R))
    assert gap.min() >= 0 and gap.max() <= loss.delta / 2 * (1 + 1e-12)


def test_huberized_is_the_absolute_value_rounded():
    R = np.array([-2.0, -0.5, 0.0, 0.25, 3.0])
    h, slope = huberized(R, 1.0)
    np.testing.assert_array_equal(h, [1.5, 0.125, 0.0, 0.03125, 2.5])
    np.testing.assert_array_equal(slope, [-1.0, -0.5, 0.0, 0.25, 1.0])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", NEW, ids=repr)
def test_gradient_matches_central_differences(loss, sparse):
    X, Y = _problem()
    sizes = (3, 5, 2)
    theta = init_params(sizes, "tanh", random_state=0)
    sw = np.random.default_rng(1).uniform(0.5, 2, len(X))
    args = (sp.csr_matrix(X) if sparse else X, Y, sizes, "tanh", loss, 0.1, sw)
    assert check_gradient(cost_grad, theta, args) < 1e-7


@pytest.mark.parametrize("loss", NEW, ids=repr)
def test_gradient_is_the_sum_of_the_rows(loss):
    # A literal per-example loop: D of the batch is the weighted mean of the
    # rows' gradients (the penalty added once).
    X, Y = _problem(m=12)
    sizes = (3, 4, 2)
    theta = init_params(sizes, "logistic", random_state=1)
    J, D = cost_grad(theta, X, Y, sizes, "logistic", loss, 0.0)
    rows = [
        cost_grad(theta, X[i : i + 1], Y[i : i + 1], sizes, "logistic", loss, 0.0)
        for i in range(len(X))
    ]
    np.testing.assert_allclose(J, np.mean([r[0] for r in rows]), rtol=1e-13)
    np.testing.assert_allclose(D, np.mean([r[1] for r in rows], axis=0), atol=1e-14)


def test_huber_hessian_vector_product_matches_differences_of_the_gradient():
    X, Y = _problem()
    sizes = (3, 4, 2)
    loss = HuberLoss(delta=0.7)
    theta = init_params(sizes, "tanh", random_state=2)
    v = np.random.default_rng(3).normal(size=theta.size)
    args = (X, Y, sizes, "tanh", loss, 0.1)
    Hv = hessian_vector_product(theta, v, *args)
    h = 1e-5
    numeric = cost_grad(theta + h * v, *args)[1] - cost_grad(theta - h * v, *args)[1]
    numeric /= 2 * h
    # No residual crosses the threshold within the step.
    np.testing.assert_allclose(Hv, numeric, rtol=1e-5, atol=1e-7)


def test_losses_without_curvature_refuse_curvature_products():
    X, Y = _problem()
    sizes = (3, 4, 2)
    theta = init_params(sizes, "tanh", random_state=0)
    with pytest.raises(ValueError, match="no curvature"):
        hessian_vector_product(theta, theta, X, Y, sizes, "tanh", AbsoluteError(0.1))


def _heteroscedastic(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 2))
    noise = (0.2 + 0.3 * np.abs(X[:, 0])) * rng.normal(size=n)
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1] + noise


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_coverage_is_the_nominal_level_on_held_out_data(q):
    X, y = _heteroscedastic(2000, 0)
    X_test, y_test = _heteroscedastic(20000, 1)
    est = BackpropRegressor(
        (16,),
        "tanh",
        loss="quantile",
        quantile=q,
        alpha=1.0,
        max_iter=500,
        random_state=0,
    ).fit(X, y)
    coverage = np.mean(y_test <= est.predict(X_test))
    # 20,000 test rows: the coverage's own standard error is below 0.004.
    assert abs(coverage - q) <= 0.02
    assert est.loss_function_ == PinballLoss(q, delta=est.loss_function_.delta)


def _outliers(n, seed, fraction):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    bad = rng.choice(n, int(fraction * n), replace=False)
    y[bad] += rng.choice([-1, 1], len(bad)) * rng.uniform(10, 30, len(bad))
    return X, y


def test_robust_losses_keep_their_test_error_under_gross_outliers():
    X_test, y_test = _outliers(5000, 1, 0.0)
    errors = {}
    for fraction in (0.0, 0.1):
        X, y = _outliers(500, 0, fraction)
        for loss in ("squared_error", "huber", "absolute_error"):
            est = BackpropRegressor(
                (16,), "tanh", loss=loss, alpha=1.0, max_iter=300, random_state=0
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(X, y)
            errors[loss, fraction] = np.mean((est.predict(X_test) - y_test) ** 2)
    noise = 0.1**2
    # Clean data: every loss fits to within a few times the noise.
    assert all(errors[loss, 0.0] < 3 * noise for loss in ("huber", "absolute_error"))
    # 10% gross outliers (10 to 30 noise levels... times 100): squared error
    # is ruined, the robust losses stay within a small multiple of clean.
    assert errors["squared_error", 0.1] > 100 * errors["squared_error", 0.0]
    assert errors["huber", 0.1] < 3 * errors["huber", 0.0]
    assert errors["absolute_error", 0.1] < 2 * errors["absolute_error", 0.0]


def test_thresholds_follow_the_targets_units():
    X, y = _outliers(300, 0, 0.1)
    fits = [
        BackpropRegressor((6,), "tanh", loss="huber", alpha=1.0, random_state=0).fit(
            X, c * y
        )
        for c in (1.0, 1000.0)
    ]
    deltas = [f.loss_function_.delta for f in fits]
    assert deltas[1] == pytest.approx(1000 * deltas[0], rel=1e-12)
    assert deltas[0] == pytest.approx(1.35 * target_scale(y[:, None], None))
    # An explicit threshold is kept as given.
    fixed = BackpropRegressor((6,), loss=HuberLoss(delta=2.0), random_state=0)
    assert fixed.fit(X, y).loss_function_ == HuberLoss(delta=2.0)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"solver": "lm", "loss": "absolute_error"}, "needs the loss's curvature"),
        ({"solver": "trust-ncg", "loss": "quantile", "quantile": 0.3}, "curvature"),
        ({"solver": "least_squares", "loss": "huber"}, "squared-error regression"),
        ({"alpha": "evidence", "loss": "huber"}, "negative log-likelihood"),
        ({"loss": "quantile"}, "set quantile"),
    ],
)
def test_solvers_that_need_curvature_refuse_losses_without(params, match):
    X, y = _outliers(50, 0, 0.0)
    with pytest.raises(ValueError, match=match):
        BackpropRegressor((3,), random_state=0, **params).fit(X, y)


def test_huber_runs_with_levenberg_marquardt():
    # Its Gauss-Newton matrix counts the rows inside the threshold: lm
    # converges to a stationary point, as robust as L-BFGS-B's fits.
    X, y = _outliers(300, 0, 0.1)
    X_test, y_test = _outliers(2000, 1, 0.0)
    fits = {
        loss: BackpropRegressor(
            (6,), "tanh", solver="lm", loss=loss, alpha=1.0, random_state=0
        ).fit(X, y)
        for loss in ("huber", "squared_error")
    }
    result = fits["huber"].optimize_result_
    assert result.success and np.max(np.abs(result.jac)) <= 1e-4 or result.status == 2
    error = {k: np.mean((f.predict(X_test) - y_test) ** 2) for k, f in fits.items()}
    assert error["huber"] < 0.05 < 1.0 < error["squared_error"]


@pytest.mark.parametrize("loss", ["huber", HuberLoss(delta=1.5), PinballLoss(0.7)])
def test_fitted_loss_survives_pickle_and_skops(loss):
    sio = pytest.importorskip("skops.io")
    from skbackprop import trusted_types

    X, y = _outliers(80, 0, 0.1)
    est = BackpropRegressor((4,), loss=loss, random_state=0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    for loaded in (
        pickle.loads(pickle.dumps(est)),
        sio.loads(sio.dumps(est), trusted=trusted_types()),
    ):
        assert loaded.loss == est.loss and loaded.loss_function_ == est.loss_function_
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_a_saved_loss_with_bad_parameters_is_refused():
    X, y = _outliers(80, 0, 0.0)
    est = BackpropRegressor((3,), loss="huber", random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    state = est.__getstate__()
    state["loss_function_"] = {"name": "huber", "delta": -1.0}
    with pytest.raises(ValueError, match="loss_function_"):
        BackpropRegressor().__setstate__(state)


def test_registry():
    assert set(losses.names("regression")) == {
        "squared_error",
        "poisson",
        "huber",
        "absolute_error",
        "quantile",
    }
    assert losses.names("classification") == ["binary_log_loss", "log_loss"]
    assert get_loss("quantile", quantile=0.2) == PinballLoss(0.2)
    assert hash(HuberLoss(1.0)) == hash(HuberLoss(1.0))
    with pytest.raises(ValueError, match="already registered"):
        losses.register(type("Other", (HuberLoss,), {}))
    with pytest.raises(ValueError, match="quantile must be"):
        PinballLoss(1.5)
    with pytest.raises(ValueError, match="delta must be"):
        HuberLoss(delta=0.0)
    assert losses.from_state(losses.to_state(PinballLoss(0.3, 0.1))) == PinballLoss(
        0.3, 0.1
    )
