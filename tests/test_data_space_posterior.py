"""The whole network's error bars through the data space: after an evidence
loop on the data-space path (more parameters than data), the posterior is
kept as ``M^-1 = D^-1/2 (Q (I + R R')^-1 Q' + I - Q Q') D^-1/2`` instead of
``M``'s dense Cholesky factor."""

import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skbackprop._training.evidence_terms as evidence_terms
from skbackprop import BackpropRegressor
from skbackprop._data import standardized
from skbackprop._engine import laplace
from skbackprop._engine.network import Network
from skbackprop._posterior import from_target_units


@pytest.mark.parametrize("hidden", [(9,), (4, 6)])
@pytest.mark.parametrize("ard", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_data_space_variances_equal_the_dense_factors(
    hidden, ard, sparse, noisy_problem, rows_objective, seed
):
    # g' M^-1 g for new rows: the same through the data space (16 rows x 2
    # outputs, fewer than the parameters) as through M's Cholesky factor.
    X, y = noisy_problem(m=16, n0=3)
    rng = np.random.RandomState(seed)
    Y = np.hstack([y, rng.normal(size=y.shape)])
    net = Network((3, *hidden, 2), "tanh", "squared_error")
    alpha = "rows" if ard else 0.4
    objective, theta = rows_objective(net, X, Y, alpha, sparse)
    dual = evidence_terms.DataSpace()
    dual(objective, theta)  # sets the biases' prior
    posterior = dual.posterior(objective, theta)
    L = evidence_terms.Exact(dual.epsilon).factor(objective, theta)
    X_new = rng.uniform(-2, 2, (5, 3))
    got = laplace.data_space_variances(net, theta, X_new, posterior)
    expected = laplace.full_variances(net, theta, X_new, L)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # Its memory: (n_params + r) r floats, under the dense factor's here.
    r = 16 * 2
    assert posterior["basis"].shape == (net.n_params, r)
    assert posterior["factor"].shape == (r, r)


def test_data_space_roots_are_a_robust_norm():
    rng = np.random.default_rng(7)
    n, r = 6, 3
    Q = np.linalg.qr(rng.normal(size=(n, r)))[0]
    L = np.linalg.cholesky(np.eye(r) + np.diag([1.0, 10.0, 100.0]))
    scale = rng.uniform(0.5, 2, n)
    g = rng.normal(size=(1, n))
    plain = laplace.data_space_roots(L, Q, scale, g)
    G = np.vstack([g, 1e300 * g, 1e-300 * g, np.zeros((1, n)), [[np.inf] + [0] * 5]])
    roots = laplace.data_space_roots(L, Q, scale, G)
    np.testing.assert_allclose(roots[:3], plain * [1, 1e300, 1e-300], rtol=1e-14)
    assert roots[3] == 0 and roots[4] == np.inf


def _wide_fit(noisy_problem, seed, monkeypatch=None, **kwargs):
    # 40 rows, 301 parameters: the loop takes the data-space path.
    X, y = noisy_problem(m=40)
    y = 1000.0 * y.ravel()  # in units: the bars come back in them
    reg = BackpropRegressor(
        (60,), "tanh", alpha="evidence", random_state=seed, **kwargs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return X, y, reg.fit(X, y)


def test_a_data_space_loop_keeps_the_whole_networks_bars(
    noisy_problem, tanh_jacobian, seed, recorded_reestimates
):
    X, y, reg = _wide_fit(noisy_problem, seed)
    paths = [call[2] for call in recorded_reestimates]
    assert isinstance(paths[0], evidence_terms.DataSpace)
    assert reg._laplace["kind"] == "data-space"
    # The textbook computation in the standardized targets' units, from
    # Jacobians written out by hand, scaled back (as the dense factor's test
    # in test_posterior.py).
    sizes = (2, 60, 1)
    targets = standardized(y.reshape(-1, 1), None)[1]
    scale = targets[1]
    net = Network(sizes, "tanh", "squared_error")
    theta = from_target_units(
        net, np.concatenate([c.ravel() for c in reg.coefs_] + reg.intercepts_), targets
    )
    noise = reg.noise_variance_ / scale**2
    n_W = net.n_coefs
    Jac = tanh_jacobian(theta, X, sizes).reshape(-1, len(theta))
    prior = np.where(np.arange(len(theta)) < n_W, reg.alpha_, paths[0].epsilon)
    A_inv = np.linalg.inv((Jac.T @ Jac + np.diag(prior)) / noise)
    X_new = np.random.RandomState(seed + 5).uniform(-1.5, 1.5, (7, 2))
    g = tanh_jacobian(theta, X_new, sizes)[:, 0, :]
    var = scale**2 * (noise + np.einsum("rp,pq,rq->r", g, A_inv, g))
    std = reg.predict(X_new, return_std=True)[1]
    np.testing.assert_allclose(std, np.sqrt(var), rtol=1e-8)


def _edit(key, value):
    def edit(laplace_):
        laplace_[key] = value(laplace_[key])

    return edit


@pytest.mark.parametrize(
    "edit, field",
    [
        (_edit("basis", lambda Q: Q[:-1]), r"_laplace\['basis'\](?s:.*)shape"),
        (_edit("scale", lambda d: d.astype(np.float32)), r"_laplace\['scale'\]"),
        (_edit("scale", lambda d: d * np.nan), r"_laplace\['scale'\](?s:.*)finite"),
        (_edit("factor", lambda L: -L), "positive diagonal"),
        (lambda laplace_: laplace_.pop("basis"), "_laplace"),
    ],
)
def test_loading_refuses_an_edited_data_space_posterior(
    edit, field, noisy_problem, seed
):
    _, _, reg = _wide_fit(noisy_problem, seed)
    reg = copy.deepcopy(reg)
    edit(reg._laplace)
    with pytest.raises(ValueError, match=f"Refusing to load(?s:.*){field}"):
        pickle.loads(pickle.dumps(reg))
