"""alpha="evidence": the re-estimates by hand, the loop, the fitted attributes."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge
from sklearn.utils._param_validation import InvalidParameterError

import skbackprop._base as base
import skbackprop._training.evidence as evidence
from skbackprop import BackpropClassifier, BackpropRegressor, init_params
from skbackprop._data import standardized
from skbackprop._engine.network import Network
from skbackprop._posterior import from_target_units
from skbackprop._training.objective import InMemoryObjective


@pytest.mark.parametrize("loss", ["squared_error", "binary_log_loss"])
def test_reestimate_equals_a_hand_computation(
    loss, noisy_problem, tanh_jacobian, tanh_logits
):
    sizes = (2, 3, 1)
    X, y = noisy_problem()
    Y = y if loss == "squared_error" else (y > y.mean()).astype(float)
    sw = np.random.RandomState(1).uniform(0.5, 2, len(X))
    net = Network(sizes, "tanh", loss)
    theta = init_params(sizes, "tanh", 0) * 3
    alpha = 0.7
    objective = InMemoryObjective(net, X, Y, sw, alpha)
    got = evidence.reestimate(objective, theta, evidence.Exact())

    n_W, n_b, S = net.n_coefs, net.n_params - net.n_coefs, sw.sum()
    Jac = tanh_jacobian(theta, X, sizes)[:, 0, :]
    Z = tanh_logits(theta, X, sizes)
    if loss == "squared_error":
        h = np.ones(len(X))
        E_D = 0.5 * np.sum(sw[:, None] * (Z - Y) ** 2)
    else:
        p = 1 / (1 + np.exp(-Z[:, 0]))
        h = p * (1 - p)
        E_D = -np.sum(sw * (Y[:, 0] * np.log(p) + (1 - Y[:, 0]) * np.log(1 - p)))
    G = Jac.T @ (Jac * (sw * h)[:, None])
    epsilon = 1e-6 * np.mean(np.diag(G))  # the biases' broad prior
    M = G + np.diag(np.where(np.arange(len(G)) < n_W, alpha, epsilon))
    M_inv = np.linalg.inv(M)
    gamma = n_W - alpha * np.trace(M_inv[:n_W, :n_W])
    E_W = 0.5 * theta[:n_W] @ theta[:n_W]
    E_b = 0.5 * theta[n_W:] @ theta[n_W:]
    if loss == "squared_error":
        N = S  # one output
        beta = (N - gamma - n_b) / (2 * E_D)
        noise_terms = 0.5 * N * np.log(beta) - 0.5 * N * np.log(2 * np.pi)
    else:
        beta, noise_terms = 1.0, 0.0
    alpha_w = alpha * beta
    log_det_A = np.linalg.slogdet(beta * M)[1]
    log_evidence = (
        -beta * E_D
        - alpha_w * E_W
        - beta * epsilon * E_b
        - 0.5 * log_det_A
        + 0.5 * n_W * np.log(alpha_w)
        + 0.5 * n_b * np.log(beta * epsilon)
        + noise_terms
    )
    assert got.alpha == alpha
    assert got.gamma == pytest.approx(gamma, rel=1e-10)
    assert got.beta == pytest.approx(beta, rel=1e-10)
    assert got.log_evidence == pytest.approx(log_evidence, rel=1e-10)
    assert got.next_alpha == pytest.approx(gamma / (2 * E_W) / beta, rel=1e-10)
    np.testing.assert_allclose(got.factor @ got.factor.T, M, rtol=1e-12, atol=1e-12)


def test_stochastic_estimates_agree_with_the_exact_ones(noisy_problem):
    sizes = (2, 6, 1)
    X, y = noisy_problem(m=60)
    net = Network(sizes, "tanh", "squared_error")
    theta = init_params(sizes, "tanh", 0) * 2
    objective = InMemoryObjective(net, X, y, None, 0.3)
    exact = evidence.reestimate(objective, theta, evidence.Exact())
    rng = np.random.RandomState(0)
    stochastic = evidence.reestimate(
        objective, theta, evidence.Stochastic(rng, net.n_params)
    )
    assert stochastic.factor is None
    assert stochastic.gamma == pytest.approx(exact.gamma, rel=0.1)
    assert stochastic.log_evidence == pytest.approx(exact.log_evidence, rel=0.1)


@pytest.mark.parametrize(
    "loss, k, alpha",
    [
        ("squared_error", 2, 0.3),
        ("binary_log_loss", 1, 0.3),
        ("log_loss", 3, 0.3),
        ("poisson", 1, 0.3),
        ("squared_error", 1, 0.0),  # no prior: the weights are free too
    ],
)
def test_the_data_space_path_equals_the_dense_one(loss, k, alpha, noisy_problem):
    # Woodbury's identity: the same tr(P M^-1) and log det M, through the
    # rows x outputs matrix instead of the parameters' one.
    X, y = noisy_problem(m=12, n0=3)
    rng = np.random.RandomState(0)
    if loss == "log_loss":
        Y = np.eye(k)[rng.randint(0, k, len(X))]
    elif loss == "binary_log_loss":
        Y = (y > y.mean()).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(2.0, (len(X), 1)).astype(float)
    else:
        Y = y if k == 1 else np.hstack([y, -y])
    sizes = (3, 7, k)
    net = Network(sizes, "tanh", loss)
    theta = init_params(sizes, "tanh", 0) * 2
    sw = rng.uniform(0.5, 2, len(X))
    objective = InMemoryObjective(net, X, Y, sw, alpha)
    exact, dual = evidence.Exact(), evidence.DataSpace()
    t_exact, ld_exact, _ = exact(objective, theta)
    t_dual, ld_dual, factor = dual(objective, theta)
    assert factor is None
    assert dual.epsilon == pytest.approx(exact.epsilon, rel=1e-12)
    # diag(P M^-1): its sum as exactly, each entry (the weights of alpha=0
    # have a variance of 1e5 here, from differences) to 1e-8.
    assert t_dual.sum() == pytest.approx(t_exact.sum(), rel=1e-9)
    assert t_dual == pytest.approx(t_exact, rel=1e-8)
    assert ld_dual == pytest.approx(ld_exact, rel=1e-9, abs=1e-9)


def test_wide_networks_take_the_data_space_path(monkeypatch, noisy_problem):
    # More parameters than data (241 for 100 rows here, with the limit
    # lowered): exact, where the stochastic estimates were approximate and
    # slow (about 140 s a fit for 20,301 parameters on 80 rows).
    X, y = noisy_problem(m=100)
    X = np.hstack([X, np.random.RandomState(0).normal(size=(100, 8))])
    kwargs = dict(alpha="evidence", max_iter=500, random_state=0)
    exact = BackpropRegressor((20,), "tanh", **kwargs).fit(X, y.ravel())
    monkeypatch.setattr(evidence, "EXACT_LIMIT", 100)
    objective = InMemoryObjective(Network((10, 20, 1), "tanh"), X, y, None, 1.0)
    assert isinstance(
        evidence.choose_terms(objective, np.random.RandomState(0)),
        evidence.DataSpace,
    )
    dual = BackpropRegressor((20,), "tanh", **kwargs).fit(X, y.ravel())
    # Its error bars from the dense factor, formed once after the loop.
    assert dual._laplace["kind"] == "full"
    # The first re-estimate is the same to rounding; the later fits start
    # from alphas 1e-12 apart, and the non-convex fits part a little.
    assert dual.evidence_curve_[0] == pytest.approx(exact.evidence_curve_[0], rel=1e-9)
    assert dual.alpha_ == pytest.approx(exact.alpha_, rel=0.1)
    assert dual.n_effective_params_ == pytest.approx(
        exact.n_effective_params_, rel=0.02
    )


def test_above_the_exact_limit_the_loop_runs_on_estimates(monkeypatch, noisy_problem):
    X, y = noisy_problem(m=150)
    kwargs = dict(alpha="evidence", max_iter=500, random_state=0)
    exact = BackpropRegressor((5,), "tanh", **kwargs).fit(X, y.ravel())
    monkeypatch.setattr(evidence, "EXACT_LIMIT", 10)
    estimated = BackpropRegressor((5,), "tanh", **kwargs).fit(X, y.ravel())
    assert exact._laplace["kind"] == "full"
    assert estimated._laplace["kind"] == "last-layer"
    assert estimated.n_effective_params_ == pytest.approx(
        exact.n_effective_params_, rel=0.05
    )
    assert estimated.alpha_ == pytest.approx(exact.alpha_, rel=0.2)
    assert estimated.noise_variance_ == pytest.approx(exact.noise_variance_, rel=0.05)


def test_the_loop_settles_at_a_fixed_point_of_the_re_estimates(noisy_problem):
    X, y = noisy_problem(m=150)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = BackpropRegressor(
            (5,), "tanh", alpha="evidence", max_iter=500, random_state=0
        ).fit(X, y.ravel())
    n_outer = len(reg.evidence_curve_)
    assert 2 <= n_outer < evidence.MAX_ITER
    # Refit at the fitted alpha_ and re-estimate: alpha_ comes back within
    # the loop's tolerance.  The loop sees the targets standardized, and
    # alpha_ is its penalty there.
    net = Network((2, 5, 1), "tanh", "squared_error")
    Y, targets = standardized(y, None)
    theta = np.concatenate([c.ravel() for c in reg.coefs_] + reg.intercepts_)
    theta = from_target_units(net, theta, targets)
    objective = InMemoryObjective(net, X, Y, None, reg.alpha_)
    again = evidence.reestimate(objective, theta, evidence.Exact())
    assert abs(np.log(again.next_alpha / reg.alpha_)) <= evidence.TOL
    # (epsilon is set at the first re-estimation of the fit: a hair apart.)
    scale = targets[1]
    assert reg.noise_variance_ == pytest.approx(scale**2 / again.beta, rel=1e-3)
    n_b = net.n_params - net.n_coefs
    assert reg.n_effective_params_ == pytest.approx(again.gamma + n_b, rel=1e-2)
    assert 0 < reg.n_effective_params_ <= net.n_params
    # The noise of the data (0.1^2) within a factor 2.
    assert 0.005 < reg.noise_variance_ < 0.02


def test_a_linear_network_agrees_with_bayesian_ridge():
    # Without hidden layers the Laplace approximation is exact: MacKay's
    # fixed point is BayesianRidge's, up to its intercept not counting in
    # the noise's degrees of freedom and its tiny hyperpriors.
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 * rng.randn(300)
    reg = BackpropRegressor(
        (), alpha="evidence", tol=1e-10, max_iter=1000, random_state=0
    ).fit(X, y)
    ridge = BayesianRidge(tol=1e-10).fit(X, y)
    assert reg.noise_variance_ == pytest.approx(1 / ridge.alpha_, rel=0.01)
    assert reg.alpha_ == pytest.approx(ridge.lambda_ / ridge.alpha_, rel=0.05)
    np.testing.assert_allclose(reg.coefs_[0].ravel(), ridge.coef_, atol=1e-3)


def test_classifier_and_poisson_settle_without_a_noise_variance(noisy_problem):
    X, y = noisy_problem(m=120)
    labels = (y.ravel() > np.median(y)).astype(int)
    clf = BackpropClassifier(
        (4,), "tanh", alpha="evidence", max_iter=500, random_state=0
    ).fit(X, labels)
    assert clf.alpha_ > 0 and len(clf.evidence_curve_) < evidence.MAX_ITER
    assert not hasattr(clf, "noise_variance_")
    counts = np.random.RandomState(0).poisson(np.exp(X[:, 0]))
    reg = BackpropRegressor(
        (4,), "tanh", loss="poisson", alpha="evidence", max_iter=500, random_state=0
    ).fit(X, counts)
    assert reg.noise_variance_ is None and reg.n_effective_params_ > 0
    assert np.isfinite(reg.evidence_curve_).all()


def test_a_float_alpha_fit_is_untouched_by_the_posterior(monkeypatch, noisy_problem):
    X, y = noisy_problem(m=80)
    kwargs = dict(hidden_layer_sizes=(6,), activation="tanh", random_state=0)
    reg = BackpropRegressor(alpha=0.01, **kwargs).fit(X, y.ravel())
    monkeypatch.setattr(base, "fit_posterior", lambda *args: None)
    bare = BackpropRegressor(alpha=0.01, **kwargs).fit(X, y.ravel())
    assert not hasattr(bare, "alpha_")
    for a, b in zip(
        reg.coefs_ + reg.intercepts_, bare.coefs_ + bare.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert reg.loss_curve_ == bare.loss_curve_
    assert reg.alpha_ == 0.01
    assert reg.n_effective_params_ is None and reg.evidence_curve_ is None


def test_evidence_is_reproducible(noisy_problem):
    X, y = noisy_problem(m=60)
    fits = [
        BackpropRegressor((4,), "tanh", alpha="evidence", random_state=3).fit(
            X, y.ravel()
        )
        for _ in range(2)
    ]
    assert fits[0].evidence_curve_ == fits[1].evidence_curve_
    np.testing.assert_array_equal(fits[0].coefs_[0], fits[1].coefs_[0])


def test_an_unsettled_loop_warns(monkeypatch, noisy_problem):
    monkeypatch.setattr(evidence, "MAX_ITER", 1)
    X, y = noisy_problem(m=60)
    with pytest.warns(ConvergenceWarning, match="did not settle"):
        reg = BackpropRegressor(
            (4,), "tanh", alpha="evidence", max_iter=500, random_state=0
        ).fit(X, y.ravel())
    assert len(reg.evidence_curve_) == 1


def test_the_callback_ends_the_whole_loop(noisy_problem):
    X, y = noisy_problem(m=60)
    calls = []

    def stop_at_three(state):
        calls.append(state.nit)
        return len(calls) >= 3

    reg = BackpropRegressor(
        (4,), "tanh", alpha="evidence", callback=stop_at_three, random_state=0
    ).fit(X, y.ravel())
    assert len(calls) == 3 and len(reg.evidence_curve_) == 1


@pytest.mark.parametrize(
    "params, fit_kwargs, error, match",
    [
        ({"alpha": "evidenc"}, {}, InvalidParameterError, "alpha"),
        ({"alpha": "evidence", "early_stopping": True}, {}, ValueError, "early_st"),
        ({"alpha": "evidence", "solver": "gd"}, {"partial": True}, ValueError, "part"),
    ],
)
def test_bad_settings_are_refused_and_leave_the_fit_unchanged(
    params, fit_kwargs, error, match, noisy_problem
):
    X, y = noisy_problem(m=40)
    reg = BackpropRegressor((3,), "tanh", solver="gd", max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y.ravel())
    before = {k: v for k, v in vars(reg).items() if k.endswith("_")}
    reg.set_params(**params)
    with pytest.raises(error, match=match):
        if fit_kwargs.get("partial"):
            reg.partial_fit(X, y.ravel())
        else:
            reg.fit(X, y.ravel())
    after = {k: v for k, v in vars(reg).items() if k.endswith("_")}
    assert after.keys() == before.keys()
    np.testing.assert_array_equal(after["coefs_"][0], before["coefs_"][0])
    assert after["alpha_"] == before["alpha_"]


def test_dask_input_is_refused(noisy_problem):
    da = pytest.importorskip("dask.array")
    X, y = noisy_problem(m=40)
    reg = BackpropRegressor((3,), alpha="evidence")
    with pytest.raises(ValueError, match="not supported for Dask"):
        reg.fit(da.from_array(X, chunks=20), da.from_array(y.ravel(), chunks=20))
