"""predict(X, return_std=True): the Laplace approximation against textbook
computations, its persistence, and its refusals."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skbackprop._posterior as posterior
from skbackprop import BackpropRegressor, trusted_types
from skbackprop._data import standardized
from skbackprop._engine import laplace
from skbackprop._engine.network import Network
from skbackprop._posterior import from_target_units


def theta_of(est):
    return np.concatenate([c.ravel() for c in est.coefs_] + est.intercepts_)


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_full_posterior_equals_the_dense_textbook_computation(
    n_outputs, noisy_problem, tanh_jacobian, seed, recorded_reestimates
):
    X, y = noisy_problem(m=50, k=n_outputs)
    y = y.ravel() if n_outputs == 1 else y
    reg = fit_quietly(
        BackpropRegressor((3,), "tanh", alpha="evidence", random_state=seed), X, y
    )
    paths = [call[2] for call in recorded_reestimates]
    assert reg._laplace["kind"] == "full"
    sizes = (2, 3, n_outputs)
    # The evidence fits standardized targets: the textbook computation in
    # their units, y = mean + scale y_std, its variances times scale^2.
    _, (_, scale) = standardized(y.reshape(len(y), -1), None)
    net = Network(sizes, "tanh", "squared_error")
    theta = from_target_units(
        net, theta_of(reg), standardized(y.reshape(len(y), -1), None)[1]
    )
    noise = reg.noise_variance_ / scale**2
    n_W = 2 * 3 + 3 * n_outputs
    # A = beta (sum_i J_i' J_i + alpha P + epsilon (I - P)), from Jacobians
    # written out by hand; epsilon is the biases' prior, fixed by the fit at
    # its first re-estimation (to the rounding of G's entries: sums of m
    # rows, and a Cholesky factor of n_params columns).
    Jac = tanh_jacobian(theta, X, sizes).reshape(-1, len(theta))
    G = Jac.T @ Jac
    t = np.ones(len(theta))
    t[2 * 3 : n_W] = t[-n_outputs:] = scale  # the output layer's scale
    L = (t / scale)[:, None] * reg._laplace["factor"]  # the factor of M_std
    epsilon = (L @ L.T - G)[-1, -1]
    rounding = (len(X) + len(theta)) * np.finfo(float).eps * np.abs(G).max()
    assert abs(epsilon - paths[0].epsilon) <= rounding
    prior = np.where(np.arange(len(theta)) < n_W, reg.alpha_, epsilon)
    A = (G + np.diag(prior)) / noise
    A_inv = np.linalg.inv(A)

    X_new = np.random.RandomState(seed + 5).uniform(-1.5, 1.5, (7, 2))
    g = tanh_jacobian(theta, X_new, sizes)  # (rows, outputs, params)
    var = scale**2 * (noise + np.einsum("rkp,pq,rkq->rk", g, A_inv, g))
    mean, std = reg.predict(X_new, return_std=True)
    expected = np.sqrt(var).ravel() if n_outputs == 1 else np.sqrt(var)
    np.testing.assert_allclose(std, expected, rtol=1e-10)
    np.testing.assert_array_equal(mean, reg.predict(X_new))


def test_last_layer_posterior_equals_bayesian_linear_regression_on_features(
    noisy_problem,
    seed,
):
    X, y = noisy_problem(m=60)
    alpha = 0.05
    reg = fit_quietly(
        BackpropRegressor((4,), "tanh", alpha=alpha, random_state=seed), X, y.ravel()
    )
    assert reg._laplace["kind"] == "last-layer"
    W1, b1 = reg.coefs_[0], reg.intercepts_[0]
    Phi = np.hstack([np.tanh(X @ W1 + b1), np.ones((len(X), 1))])
    G = Phi.T @ Phi
    epsilon = 1e-6 * np.mean(np.diag(G))
    M = G + np.diag([alpha] * 4 + [epsilon])
    M_inv = np.linalg.inv(M)
    residual = reg.predict(X) - y.ravel()
    gamma = 5 - alpha * np.trace(M_inv[:4, :4])
    noise = residual @ residual / (len(X) - gamma)
    assert reg.noise_variance_ == pytest.approx(noise, rel=1e-10)

    X_new = np.random.RandomState(seed + 1).uniform(-2, 2, (9, 2))
    phi = np.hstack([np.tanh(X_new @ W1 + b1), np.ones((9, 1))])
    expected = np.sqrt(noise * (1 + np.einsum("rp,pq,rq->r", phi, M_inv, phi)))
    np.testing.assert_allclose(reg.predict(X_new, return_std=True)[1], expected)


def test_without_hidden_layers_the_last_layer_is_the_whole_network(noisy_problem, seed):
    X, y = noisy_problem(m=60, k=2)
    reg = fit_quietly(BackpropRegressor((), alpha="evidence", random_state=seed), X, y)
    full = reg.predict(X[:5], return_std=True)[1]
    net = Network((2, 2), "identity", "squared_error")
    G = laplace.last_layer_gram(net, theta_of(reg), X, None)
    epsilon = (reg._laplace["factor"] @ reg._laplace["factor"].T)[-1, -1] - G[-1, -1]
    L = laplace.factor(laplace.precision(G, 2, reg.alpha_, epsilon))
    q = laplace.last_layer_variances(net, theta_of(reg), X[:5], L)
    np.testing.assert_allclose(full, np.sqrt(reg.noise_variance_ * (1 + q)))


def test_above_the_full_limit_the_last_layer_serves(monkeypatch, noisy_problem, seed):
    monkeypatch.setattr(posterior, "FULL_LIMIT", 10)
    X, y = noisy_problem(m=60)
    reg = fit_quietly(
        BackpropRegressor((4,), "tanh", alpha="evidence", random_state=seed),
        X,
        y.ravel(),
    )
    assert reg._laplace["kind"] == "last-layer"
    assert reg._laplace["factor"].shape == (5, 5)
    std = reg.predict(X, return_std=True)[1]
    assert np.all(std >= np.sqrt(reg.noise_variance_))


@pytest.mark.parametrize(
    "hidden, alpha, kind",
    [
        ((3,), "evidence", "full"),
        ((3,), 0.01, "last-layer"),
        ((60,), "evidence", "data-space"),  # 241 parameters for 50 rows
    ],
)
def test_error_bars_survive_pickle_and_skops(hidden, alpha, kind, noisy_problem, seed):
    sio = pytest.importorskip("skops.io")
    X, y = noisy_problem(m=50)
    reg = fit_quietly(
        BackpropRegressor(hidden, "tanh", alpha=alpha, random_state=seed), X, y.ravel()
    )
    assert reg._laplace["kind"] == kind
    expected = reg.predict(X, return_std=True)
    for loaded in (
        pickle.loads(pickle.dumps(reg)),
        sio.loads(sio.dumps(reg), trusted=trusted_types()),
    ):
        got = loaded.predict(X, return_std=True)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert loaded.alpha_ == reg.alpha_
        assert loaded.evidence_curve_ == reg.evidence_curve_


def test_float32_models_give_error_bars_in_their_precision(noisy_problem, seed):
    X, y = noisy_problem(m=60)
    X32, y32 = X.astype(np.float32), y.ravel().astype(np.float32)
    reg = fit_quietly(
        BackpropRegressor((3,), "tanh", alpha="evidence", random_state=seed), X32, y32
    )
    mean, std = reg.predict(X32, return_std=True)
    assert mean.dtype == np.float32
    assert np.all(np.isfinite(std)) and np.all(std > 0)


def test_refusals_are_clear(noisy_problem, seed):
    X, y = noisy_problem(m=40)
    counts = np.random.RandomState(seed).poisson(1.0, 40)
    poisson = fit_quietly(BackpropRegressor((3,), loss="poisson"), X, counts)
    with pytest.raises(ValueError, match="no Gaussian noise"):
        poisson.predict(X, return_std=True)
    assert poisson.noise_variance_ is None
    incremental = BackpropRegressor((3,), solver="gd").partial_fit(X, y.ravel())
    with pytest.raises(ValueError, match="partial_fit"):
        incremental.predict(X, return_std=True)
    reg = fit_quietly(BackpropRegressor((3,), random_state=seed), X, y.ravel())
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="Dask"):
        reg.predict(da.from_array(X, chunks=20), return_std=True)
