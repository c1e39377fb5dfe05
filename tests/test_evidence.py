"""alpha="evidence": the re-estimates by hand, the loop, the fitted attributes."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skbackprop._base as base
import skbackprop._training.evidence as evidence
import skbackprop._training.evidence_terms as evidence_terms
from skbackprop import BackpropClassifier, BackpropRegressor, init_params
from skbackprop._data import standardized
from skbackprop._engine.network import Network
from skbackprop._posterior import from_target_units
from skbackprop._training.objective import InMemoryObjective


@pytest.mark.parametrize("loss", ["squared_error", "binary_log_loss"])
def test_reestimate_equals_a_hand_computation(
    loss, noisy_problem, tanh_jacobian, tanh_logits, seed
):
    sizes = (2, 3, 1)
    X, y = noisy_problem()
    Y = y if loss == "squared_error" else (y > y.mean()).astype(float)
    sw = np.random.RandomState(seed + 1).uniform(0.5, 2, len(X))
    net = Network(sizes, "tanh", loss)
    theta = init_params(sizes, "tanh", seed) * 3
    alpha = 0.7
    objective = InMemoryObjective(net, X, Y, sw, alpha)
    got = evidence.reestimate(objective, theta, evidence_terms.Exact())

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


def _weight_inverse(factor, n_W):
    """The weights' block of ``M^-1`` from ``M``'s Cholesky factor."""
    return np.linalg.inv(factor @ factor.T)[:n_W, :n_W]


def test_stochastic_estimates_agree_with_the_exact_ones(
    noisy_problem, seed, hutchinson_std
):
    sizes = (2, 6, 1)
    X, y = noisy_problem(m=60)
    net = Network(sizes, "tanh", "squared_error")
    theta = init_params(sizes, "tanh", seed) * 2
    alpha = 0.3
    objective = InMemoryObjective(net, X, y, None, alpha)
    exact_path = evidence_terms.Exact()
    diagonal, log_det, factor = exact_path(objective, theta)
    stochastic_path = evidence_terms.Stochastic(
        np.random.RandomState(seed), net.n_params
    )
    stochastic_path.epsilon = exact_path.epsilon  # the same M
    estimated, estimated_log_det, _ = stochastic_path(objective, theta)
    # Each estimate is a mean over N_PROBES probes of z' B z, within four of
    # its standard errors of tr(B): B = P M^-1 P for tr(P M^-1), B = log(C)
    # for log det M (C = D^-1/2 M D^-1/2, the preconditioned matrix the
    # Lanczos quadrature runs on, D = diag(M)).  Their conjugate gradients'
    # tolerance, CG_RTOL, adds errors far below these.
    n = evidence_terms.N_PROBES
    M = factor @ factor.T
    std = hutchinson_std(_weight_inverse(factor, net.n_coefs), n)
    assert abs(estimated.sum() - diagonal.sum()) <= 4 * std
    C = M / np.sqrt(np.outer(np.diag(M), np.diag(M)))
    values, vectors = np.linalg.eigh(C)
    log_C = (vectors * np.log(values)) @ vectors.T
    assert abs(estimated_log_det - log_det) <= 4 * hutchinson_std(log_C, n)
    # The re-estimate takes gamma = n_W - alpha tr(P M^-1) from them.
    stochastic = evidence.reestimate(objective, theta, stochastic_path)
    assert stochastic.factor is None
    assert stochastic.gamma == pytest.approx(net.n_coefs - alpha * estimated.sum())


@pytest.mark.parametrize(
    "loss, k, alpha",
    [
        ("squared_error", 2, 0.3),
        ("binary_log_loss", 1, 0.3),
        ("log_loss", 3, 0.3),
        ("poisson", 1, 0.3),
        ("squared_error", 1, 0.0),  # no prior: the weights are free too
        ("squared_error", 1, "rows"),  # one alpha per input of each layer (ARD's)
        ("log_loss", 3, "rows"),
    ],
)
@pytest.mark.parametrize("hidden", [(7,), (4, 5)])
@pytest.mark.parametrize("sparse", [False, True])
def test_the_data_space_path_equals_the_dense_one(
    loss, k, alpha, hidden, sparse, noisy_problem, rows_objective, seed
):
    # Woodbury's identity from the Jacobian's factors: the same tr(P M^-1)
    # over each row of each weight matrix and log det M, through the rows x
    # outputs matrix instead of the parameters' one.
    X, y = noisy_problem(m=12, n0=3)
    rng = np.random.RandomState(seed)
    if loss == "log_loss":
        Y = np.eye(k)[rng.randint(0, k, len(X))]
    elif loss == "binary_log_loss":
        Y = (y > y.mean()).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(2.0, (len(X), 1)).astype(float)
    else:
        Y = y if k == 1 else np.hstack([y, -y])
    sizes = (3, *hidden, k)
    objective, theta = rows_objective(Network(sizes, "tanh", loss), X, Y, alpha, sparse)
    exact, dual = evidence_terms.Exact(), evidence_terms.DataSpace()
    t_exact, ld_exact, _ = exact(objective, theta)
    t_dual, ld_dual, factor = dual(objective, theta)
    assert factor is None
    assert dual.epsilon == pytest.approx(exact.epsilon, rel=1e-12)
    # The sums of diag(P M^-1) over the rows (those of weights with
    # alpha=0 are of variances of 1e5 here, from differences) to 1e-8.
    assert len(t_dual) == sum(sizes[:-1])
    assert t_dual.sum() == pytest.approx(t_exact.sum(), rel=1e-9)
    assert t_dual == pytest.approx(t_exact, rel=1e-8)
    assert ld_dual == pytest.approx(ld_exact, rel=1e-9, abs=1e-9)


def test_the_data_space_path_needs_a_prior_constant_along_rows(noisy_problem):
    X, y = noisy_problem(m=12, n0=3)
    net = Network((3, 4, 1), "tanh")
    alpha = np.arange(1.0, net.n_coefs + 1)  # varies along the rows
    objective = InMemoryObjective(net, X, y, None, alpha)
    with pytest.raises(ValueError, match="same along each row"):
        evidence_terms.DataSpace()(objective, init_params((3, 4, 1), "tanh", 0))


@pytest.mark.parametrize("alpha", ["evidence", "ard"])
def test_a_loop_that_stops_rising_keeps_its_best_fit(
    monkeypatch, alpha, recorded_reestimates
):
    # Nearly separable classes: the re-estimates jitter around their fixed
    # point and the log evidence with them, so the loop ends by PATIENCE and
    # keeps the parameters, alpha and gamma of the best outer iteration.
    monkeypatch.setattr(evidence, "TOL", 0.0)  # never settled
    monkeypatch.setattr(evidence, "ARD_TOL", 0.0)
    calls = recorded_reestimates
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[::3]
    y = y[::3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = BackpropClassifier((5,), alpha=alpha, random_state=0).fit(X, y)
    curve = clf.evidence_curve_
    assert len(curve) == len(calls) < evidence.MAX_ITER
    kept, after = evidence._best(curve)
    assert after == evidence.PATIENCE
    assert curve[kept] >= max(curve) - evidence.EVIDENCE_TOL
    objective, theta, _, estimate = calls[kept]
    got = np.concatenate([c.ravel() for c in clf.coefs_] + clf.intercepts_)
    np.testing.assert_array_equal(got, objective.net.as_theta(theta) * 1.0)
    np.testing.assert_array_equal(np.ravel(clf.alpha_), estimate.alpha)
    n_b = objective.net.n_params - objective.net.n_coefs
    assert clf.n_effective_params_ == estimate.gamma + n_b
    assert clf.loss_ == pytest.approx(
        objective.cost(theta) * objective.scale, rel=1e-12
    )


def _exact_reestimate(objective, theta, curvature):
    """The re-estimation by the dense path, with ``curvature``'s prior on the
    biases (set at the fit's first re-estimation): the same ``M``."""
    exact = evidence_terms.Exact()
    exact.epsilon = curvature.epsilon
    return evidence.reestimate(objective, theta, exact)


@pytest.mark.parametrize(
    "rows, sizes, loss, path",
    [
        # Data-space: per layer 1.5 r^2 n_l + 1.5 m^2 n_(l-1), plus 1.4 r^3,
        # multiply-adds against the dense r n^2/2 + 2 n^3/3.
        (1156, (15, 100, 1), "binary_log_loss", "DataSpace"),  # 2.6e9 vs 4.9e9
        (1227, (4, 100, 1), "squared_error", "Exact"),  # 3.0e9 vs 3.7e8
        (952, (9, 100, 1), "squared_error", "Exact"),  # 1.5e9 vs 1.5e9: a tie
        (750, (8, 100, 1), "squared_error", "DataSpace"),  # 7.7e8 vs 1.0e9
        # Softmax counts one output fewer: 266 x 2 rows, not 266 x 3.
        (266, (10, 100, 3), "log_loss", "DataSpace"),
    ],
)
def test_the_cheaper_exact_path_is_chosen(rows, sizes, loss, path, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(rows, sizes[0]))
    Y = np.eye(sizes[-1])[rng.randint(0, sizes[-1], rows)] if sizes[-1] > 1 else None
    if Y is None:
        Y = (rng.uniform(size=(rows, 1)) > 0.5).astype(float)
    objective = InMemoryObjective(Network(sizes, "relu", loss), X, Y, None, 1.0)
    terms = evidence_terms.choose_terms(objective, rng)
    assert type(terms).__name__ == path


def test_wide_networks_take_the_data_space_path(
    monkeypatch, noisy_problem, seed, recorded_reestimates
):
    # More parameters than data (241 for 100 rows here, with the limit
    # lowered): exact, where the stochastic estimates were approximate and
    # slow (about 140 s a fit for 20,301 parameters on 80 rows).
    X, y = noisy_problem(m=100)
    X = np.hstack([X, np.random.RandomState(seed).normal(size=(100, 8))])
    kwargs = dict(alpha="evidence", max_iter=500, random_state=seed)
    exact = BackpropRegressor((20,), "tanh", **kwargs).fit(X, y.ravel())
    monkeypatch.setattr(evidence_terms, "EXACT_LIMIT", 100)
    objective = InMemoryObjective(Network((10, 20, 1), "tanh"), X, y, None, 1.0)
    assert isinstance(
        evidence_terms.choose_terms(objective, np.random.RandomState(0)),
        evidence_terms.DataSpace,
    )
    calls = recorded_reestimates
    calls.clear()  # only the next fit's
    dual = BackpropRegressor((20,), "tanh", **kwargs).fit(X, y.ravel())
    # Its error bars through the data space too, formed once after the loop.
    assert dual._laplace["kind"] == "data-space"
    assert all(isinstance(call[2], evidence_terms.DataSpace) for call in calls)
    # The first fits are the same; their re-estimates agree to rounding.
    # Later fits start from alphas a rounding apart, and these non-convex
    # fits of 500 iterations can part; but every re-estimation of the dual
    # loop is the dense path's at the same parameters, to rounding.
    assert dual.evidence_curve_[0] == pytest.approx(exact.evidence_curve_[0], rel=1e-9)
    for objective, theta, curvature, estimate in (calls[0], calls[-1]):
        again = _exact_reestimate(objective, theta, curvature)
        assert estimate.gamma == pytest.approx(again.gamma, rel=1e-9)
        assert estimate.log_evidence == pytest.approx(again.log_evidence, rel=1e-9)
        assert estimate.next_alpha == pytest.approx(again.next_alpha, rel=1e-9)
    # The fit kept: the last, or the best when the log evidence stopped
    # rising (the loop's rule).
    n_b = 20 + 1
    best, after = evidence._best(dual.evidence_curve_)
    kept = {len(calls) - 1} | ({best} if after >= evidence.PATIENCE else set())
    gammas = [calls[k][3].gamma + n_b for k in kept]
    assert any(dual.n_effective_params_ == pytest.approx(g) for g in gammas)


def test_above_the_exact_limit_the_loop_runs_on_estimates(
    monkeypatch, noisy_problem, seed, hutchinson_std, recorded_reestimates
):
    X, y = noisy_problem(m=150)
    monkeypatch.setattr(evidence_terms, "EXACT_LIMIT", 10)
    # The settling rule alone ends the loop here (its last fit kept).
    monkeypatch.setattr(evidence, "PATIENCE", evidence.MAX_ITER)
    calls = recorded_reestimates
    estimated = BackpropRegressor(
        (5,), "tanh", alpha="evidence", max_iter=500, random_state=seed
    ).fit(X, y.ravel())
    assert estimated._laplace["kind"] == "last-layer"
    objective, theta, curvature, last = calls[-1]
    assert isinstance(curvature, evidence_terms.Stochastic)
    # The loop's last re-estimate against the exact one at the same
    # parameters, alpha and M: gamma = n_W - alpha tr(P M^-1) within four
    # standard errors of Hutchinson's estimate of the trace.
    exact = _exact_reestimate(objective, theta, curvature)
    alpha, n_W = estimated.alpha_, objective.net.n_coefs
    d_gamma = (
        4
        * alpha
        * hutchinson_std(_weight_inverse(exact.factor, n_W), evidence_terms.N_PROBES)
    )
    assert abs(last.gamma - exact.gamma) <= d_gamma
    # That error carries into beta = (N - gamma - n_b) / (2 E_D) and the
    # next alpha = gamma / (2 E_W beta); the loop stopped when its estimated
    # next alpha was within TOL of alpha, hence the exact one within TOL and
    # the estimate's relative errors.
    n_b = objective.net.n_params - n_W
    d_beta = d_gamma / (len(X) - exact.gamma - n_b - d_gamma)
    d_log_alpha = evidence.TOL + d_gamma / (exact.gamma - d_gamma) + d_beta
    assert estimated.n_effective_params_ == pytest.approx(last.gamma + n_b)
    # (The loop saw the targets standardized: noise_variance_ is in theirs.)
    scale = standardized(y, None)[1][1]
    assert abs(np.log(estimated.noise_variance_ / scale**2 * exact.beta)) <= d_beta
    assert 2 <= len(estimated.evidence_curve_) < evidence.MAX_ITER
    assert abs(np.log(last.next_alpha[0] / alpha)) <= evidence.TOL
    assert abs(np.log(exact.next_alpha[0] / alpha)) <= d_log_alpha


def test_the_loop_settles_at_a_fixed_point_of_the_re_estimates(
    monkeypatch, noisy_problem, seed, recorded_reestimates
):
    X, y = noisy_problem(m=150)
    # The settling rule alone ends the loop here (its last fit kept).
    monkeypatch.setattr(evidence, "PATIENCE", evidence.MAX_ITER)
    calls = recorded_reestimates
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for start in range(3):
            reg = BackpropRegressor(
                (5,), "tanh", alpha="evidence", max_iter=500, random_state=seed + start
            ).fit(X, y.ravel())
            assert 2 <= len(reg.evidence_curve_) < evidence.MAX_ITER
            # Refit at the fitted alpha_ and re-estimate (with the prior on
            # the biases the fit set at its first re-estimation): alpha_
            # comes back within the loop's tolerance.  The loop sees the
            # targets standardized, and alpha_ is its penalty there.
            net = Network((2, 5, 1), "tanh", "squared_error")
            Y, targets = standardized(y, None)
            theta = np.concatenate([c.ravel() for c in reg.coefs_] + reg.intercepts_)
            theta = from_target_units(net, theta, targets)
            objective = InMemoryObjective(net, X, Y, None, reg.alpha_)
            again = _exact_reestimate(objective, theta, calls[-1][2])
            assert abs(np.log(again.next_alpha / reg.alpha_)) <= evidence.TOL
            noise = targets[1] ** 2 / again.beta
            assert reg.noise_variance_ == pytest.approx(noise, rel=1e-12)
            n_b = net.n_params - net.n_coefs
            assert reg.n_effective_params_ == pytest.approx(again.gamma + n_b)
            assert 0 < reg.n_effective_params_ <= net.n_params
            fits.append(reg)
    # A start can end in a poor local minimum (1 in 20 here); the evidence
    # tells them apart (MacKay 1992).  The most probable of three estimates
    # the noise of the data (0.1^2) within a factor 2.
    best = max(fits, key=lambda reg: reg.evidence_curve_[-1])
    assert 0.005 < best.noise_variance_ < 0.02


def test_a_linear_network_agrees_with_bayesian_ridge(seed):
    # Without hidden layers the Laplace approximation is exact: MacKay's
    # fixed point is BayesianRidge's, up to its intercept not counting in
    # the noise's degrees of freedom and its tiny hyperpriors.
    rng = np.random.RandomState(seed)
    X = rng.randn(300, 4)
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 * rng.randn(300)
    reg = BackpropRegressor(
        (), alpha="evidence", tol=1e-10, max_iter=1000, random_state=seed
    ).fit(X, y)
    ridge = BayesianRidge(tol=1e-10).fit(X, y)
    assert reg.noise_variance_ == pytest.approx(1 / ridge.alpha_, rel=0.01)
    assert reg.alpha_ == pytest.approx(ridge.lambda_ / ridge.alpha_, rel=0.05)
    np.testing.assert_allclose(reg.coefs_[0].ravel(), ridge.coef_, atol=1e-3)


def test_classifier_and_poisson_settle_without_a_noise_variance(noisy_problem, seed):
    X, y = noisy_problem(m=120)
    labels = (y.ravel() > np.median(y)).astype(int)
    clf = BackpropClassifier(
        (4,), "tanh", alpha="evidence", max_iter=500, random_state=seed
    ).fit(X, labels)
    assert clf.alpha_ > 0 and len(clf.evidence_curve_) < evidence.MAX_ITER
    assert not hasattr(clf, "noise_variance_")
    counts = np.random.RandomState(seed).poisson(np.exp(X[:, 0]))
    reg = BackpropRegressor(
        (4,), "tanh", loss="poisson", alpha="evidence", max_iter=500, random_state=seed
    ).fit(X, counts)
    assert reg.noise_variance_ is None and reg.n_effective_params_ > 0
    assert np.isfinite(reg.evidence_curve_).all()


def test_a_float_alpha_fit_is_untouched_by_the_posterior(
    monkeypatch, noisy_problem, seed
):
    X, y = noisy_problem(m=80)
    kwargs = dict(hidden_layer_sizes=(6,), activation="tanh", random_state=seed)
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


def test_evidence_is_reproducible(noisy_problem, seed):
    X, y = noisy_problem(m=60)
    fits = [
        BackpropRegressor((4,), "tanh", alpha="evidence", random_state=seed + 3).fit(
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
