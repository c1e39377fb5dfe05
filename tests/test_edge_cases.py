"""Edge cases of the weights' scale, the evidence and the error bars.

Sample weights are divided by a power of two before training (the cost does
not change); what reads them as counts (the evidence's ``N``, the noise
variance, the Laplace approximation) or in their units (a robust threshold)
must not see that power of two.
"""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skbackprop import BackpropClassifier, BackpropRegressor


def _linear_problem(m=200, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    y = X @ [1.0, -0.5, 0.0] + 0.3 + noise * rng.normal(size=m)
    return X, y


def _theta(est):
    return np.r_[est.coefs_[0].ravel(), est.intercepts_[0]]


# -- item 8: weights whose sum overflows, read as counts by the evidence -------


@pytest.mark.parametrize("alpha", ["evidence", "ard"])
@pytest.mark.parametrize("w", [1e306, 1e307])
def test_evidence_reads_overflowing_uniform_weights_as_that_many_data(alpha, w):
    # 200 rows of weight 1e306: their sum (2e308) overflows; as counts they
    # are so many data that the evidence's penalty is nothing to them.
    # A last input of zeros leaves its weight to the prior alone.
    X, y = _linear_problem()
    X = np.column_stack([X, np.zeros(len(y))])
    tol = 1e-9
    reg = BackpropRegressor(
        (), alpha=alpha, tol=tol, solver_options={"ftol": 0.0}, random_state=0
    ).fit(X, y, sample_weight=np.full(len(y), w))
    Phi = np.column_stack([X[:, :3], np.ones(len(y))])
    ols = np.linalg.lstsq(Phi, y, rcond=None)[0]
    # J's Hessian is Phi'Phi / m: max |D| <= tol leaves theta within
    # sqrt(4) tol / lambda_min of the minimum.
    lam = np.linalg.eigvalsh(Phi.T @ Phi / len(y))[0]
    theta = _theta(reg)
    assert np.max(np.abs(np.delete(theta, 3) - ols)) <= 2 * tol / lam
    # The other parameters well determined (gamma counts 1 each, the last
    # weight's 0), and beta = (N - gamma - n_b) / (2 E_D) the mean squared
    # residual's inverse, N being some 1e308.
    assert reg.n_effective_params_ == pytest.approx(4, rel=1e-12)
    r = reg.predict(X) - y
    assert reg.noise_variance_ == pytest.approx(np.mean(r**2), rel=1e-10)


def test_evidence_classifier_with_overflowing_weights_is_unpenalized():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = (X @ [1.0, -1.0] + rng.logistic(size=300) > 0).astype(int)
    clf = BackpropClassifier(
        (), alpha="evidence", tol=1e-9, solver_options={"ftol": 0.0}, random_state=0
    ).fit(X, y, sample_weight=np.full(300, 1e307))
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    # The logistic cost's Hessian at the minimum bounds the distance to it.
    Phi = np.column_stack([X, np.ones(300)])
    p = ref.predict_proba(X)[:, 1]
    lam = np.linalg.eigvalsh(Phi.T @ (Phi * (p * (1 - p))[:, None]) / 300)[0]
    expected = np.r_[ref.coef_.ravel(), ref.intercept_]
    assert np.max(np.abs(_theta(clf) - expected)) <= 2 * 1e-9 / lam + 1e-6


@pytest.mark.parametrize("alpha", [3.0, "evidence"])
def test_weights_count_as_repetitions(alpha):
    # Weights of 3 (divided by 2 for training) and each row three times
    # make the same posterior: the same alpha_, noise and error bars.
    X, y = _linear_problem(m=30, noise=0.3)
    fit = {"alpha": alpha, "solver": "lm", "random_state": 0}
    weighted = BackpropRegressor((), **fit).fit(X, y, sample_weight=np.full(30, 3.0))
    repeated = BackpropRegressor((), **fit).fit(np.repeat(X, 3, 0), np.repeat(y, 3))
    # Both fits converge to the same minimum within lm's tolerance.
    np.testing.assert_allclose(_theta(weighted), _theta(repeated), atol=1e-6)
    assert weighted.alpha_ == pytest.approx(repeated.alpha_, rel=1e-5)
    assert weighted.noise_variance_ == pytest.approx(repeated.noise_variance_, rel=1e-5)
    np.testing.assert_allclose(
        weighted.predict(X, return_std=True)[1],
        repeated.predict(X, return_std=True)[1],
        rtol=1e-5,
    )


def test_error_bars_are_continuous_across_a_power_of_two_in_the_weights():
    # alpha and the weights times w: the same fit; the error bars change
    # with w as counts do (relatively by about delta), with no jump where
    # the weights' scale passes 2.
    X, y = _linear_problem(m=20, noise=0.3)
    delta = 2.0**-20
    stds = []
    for w in (2 * (1 - delta), 2.0):
        reg = BackpropRegressor((), alpha=w, solver="lm").fit(
            X, y, sample_weight=np.full(20, w)
        )
        stds.append(reg.predict(X, return_std=True)[1])
    np.testing.assert_allclose(stds[0], stds[1], rtol=10 * delta)


# -- item 12: least_squares' robust threshold in the targets' units -----------


def _robust_problem():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (60, 2))
    y = X @ [1.0, -2.0] + 0.5 + 0.1 * rng.normal(size=60)
    y[:6] += rng.choice([-5.0, 5.0], 6)
    return X, y


@pytest.mark.parametrize("w", [1.999, 2.0, 3.0, 40.0])
@pytest.mark.parametrize("options", [{"loss": "soft_l1", "f_scale": 0.1}, {}])
def test_robust_threshold_is_per_row_of_unit_weight_at_any_weight_scale(w, options):
    # Uniform weights w: each row's residual a_i - y_i leaves the quadratic
    # zone at f_scale / sqrt(w) (f_scale by default SciPy's 1, in the
    # targets' units too): SciPy's fit of the plain residuals with that
    # threshold, whatever power of two divided the weights.
    from scipy.optimize import least_squares

    X, y = _robust_problem()
    options = {"loss": "huber", **options}
    est = BackpropRegressor(
        (), solver="least_squares", alpha=0.0, tol=1e-12, solver_options=options
    ).fit(X, y, sample_weight=np.full(len(y), w))

    def residuals(t):
        return X @ t[:2] + t[2] - y

    f_scale = options.get("f_scale", 1.0) / np.sqrt(w)
    direct = least_squares(
        residuals, np.zeros(3), gtol=1e-12, loss=options["loss"], f_scale=f_scale
    )
    # Both runs end at the robust cost's minimum within gtol (the threshold,
    # at least 0.1 / sqrt(40), keeps enough rows in the quadratic zone for
    # the minimum to be well determined).
    np.testing.assert_allclose(_theta(est), direct.x, atol=1e-7)


# -- item 15: tiny weights and other penalties that dwarf the data -----------


def _sine_problem(m=200):
    rng = np.random.RandomState(0)
    X = rng.randn(m, 3)
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.randn(m)
    return X, y


@pytest.mark.parametrize("solver", ["L-BFGS-B", "lm"])
@pytest.mark.parametrize("alpha", [1e-4, "evidence"])
def test_tiny_weights_leave_the_prior_in_charge(solver, alpha):
    # Weights of 1e-200 are (as counts) almost no data, and the cost
    # (sum_i s_i loss_i + alpha/2 ||W||^2) / S weighs the penalty 1e196
    # times the data's: every weight at 0, the biases (unpenalized) fitting
    # a constant, the weighted mean of y.  L-BFGS-B ended at its initial
    # weights after 0 iterations ("ABNORMAL").
    X, y = _sine_problem()
    tol = 1e-6
    reg = BackpropRegressor(
        (5,), alpha=alpha, solver=solver, tol=tol, random_state=0
    ).set_params(max_iter=1000)
    fit = {"sample_weight": np.full(len(y), 1e-200)}
    if alpha == "evidence":
        with pytest.warns(ConvergenceWarning, match="noise estimate is unreliable"):
            reg.fit(X, y, **fit)
    else:
        reg.fit(X, y, **fit)
    assert max(np.max(np.abs(W)) for W in reg.coefs_) < tol
    # With W = 0, J = 1/2 mean (b - y)^2: its gradient b - mean(y) is below tol.
    np.testing.assert_allclose(reg.predict(X), np.mean(y), rtol=0, atol=2 * tol)


def test_tiny_weights_classifier_predicts_the_class_frequencies():
    X, y = _sine_problem()
    y = (y > 0.2).astype(int)
    clf = BackpropClassifier((5,), alpha=1e-4, tol=1e-8, random_state=0).fit(
        X, y, sample_weight=np.full(len(y), 1e-200)
    )
    assert max(np.max(np.abs(W)) for W in clf.coefs_) < 1e-8
    # The log loss's curvature in the logit, p (1 - p) >= 0.2 here, bounds
    # the probability's error by its gradient's, tol.
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], np.mean(y), atol=1e-6)


@pytest.mark.parametrize("kappa", [1e10, 1e20, 1e100])
@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_lbfgsb_fits_the_biases_under_a_penalty_that_dwarfs_the_data(
    kappa, random_state
):
    # alpha / S = kappa with unit weights: the same regime.  L-BFGS-B
    # stopped on the relative reduction of the cost with the weights near
    # 0 and the biases where they started (loss 0.37 or 0.65 for 0.33).
    X, y = _sine_problem()
    tol = 1e-6
    reg = BackpropRegressor(
        (5,), alpha=kappa * len(y), tol=tol, random_state=random_state
    ).fit(X, y)
    # The bias-only fit: J = 1/2 var(y), to within n_params tol^2 (the
    # weights' gain from the data, about |g|^2 / kappa, is far smaller).
    assert reg.loss_ == pytest.approx(0.5 * np.var(y), abs=26 * tol**2)
    np.testing.assert_allclose(reg.predict(X), np.mean(y), rtol=0, atol=2 * tol)


def test_float32_penalty_beyond_its_range_is_refused_by_name():
    X, y = _sine_problem()
    X, y = X.astype(np.float32), y.astype(np.float32)
    with pytest.raises(ValueError, match="beyond float32's range.*float64 data"):
        BackpropRegressor((5,), alpha=1e-4).fit(
            X, y, sample_weight=np.full(len(y), 1e-200)
        )
    # Far enough inside it, the same constant model as in float64.
    reg = BackpropRegressor((5,), alpha=1e-4, random_state=0).fit(
        X, y, sample_weight=np.full(len(y), 1e-30)
    )
    assert max(np.max(np.abs(W)) for W in reg.coefs_) < 1e-6
    atol = 2 * 1e-4 + 100 * np.finfo(np.float32).eps
    np.testing.assert_allclose(reg.predict(X), np.mean(y), rtol=0, atol=atol)


# -- item 11: alpha="ard" with a hundred inputs and more ----------------------


@pytest.mark.parametrize("hidden", [(), (1,)])
def test_ard_ranks_three_relevant_inputs_among_120(hidden):
    # Each of the 121 groups holds under 1% of gamma: the rule that switched
    # such groups off held every penalty at its start, one alpha_ for all.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 120))
    y = X[:, 0] + 0.5 * X[:, 1] - 0.5 * X[:, 2] + 0.1 * rng.normal(size=300)
    reg = BackpropRegressor(hidden, "tanh", alpha="ard", random_state=0).fit(X, y)
    alpha = reg.alpha_[:120]
    assert set(np.argsort(alpha)[:3]) == {0, 1, 2}
    # By far: the noise inputs' weights are switched off.
    assert alpha[3:].min() > 100 * alpha[:3].max()


def test_a_group_is_switched_off_by_its_own_share_of_its_weights():
    import skbackprop._training.evidence as evidence

    # 120 groups of 10 weights, gamma = 240: two weights well determined in
    # each group but the last, whose 0.05 of 10 is under a hundredth.
    gammas = np.r_[np.full(119, 240 / 119 - 0.05 / 119), 0.05]
    new = evidence.Estimate(
        np.ones(120),
        1.0,
        float(gammas.sum()),
        0.0,
        np.ones(120),
        None,
        gammas,
        np.full(120, 10.0),
    )
    np.testing.assert_array_equal(evidence._off(new), np.arange(120) == 119)


# -- item 14: ARD error bars without a hidden layer, last-layer path ----------


def _ard_linear(m, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=m)
    return X, y, rng.normal(size=(200, n))


@pytest.fixture
def last_layer_posterior(monkeypatch):
    # Above FULL_LIMIT parameters (2,000) the error bars take the last
    # layer's path; lowered here so that small networks take it.
    import skbackprop._posterior as posterior

    monkeypatch.setattr(posterior, "FULL_LIMIT", 0)


def test_ard_error_bars_without_hidden_layer_are_bayesian_linear_regression(
    last_layer_posterior,
):
    # More inputs than rows: the posterior of the unused inputs' weights is
    # their prior's, 1 / alpha_ each; the last input's alpha_ for all made
    # the error bars up to 170 times too large.
    from skbackprop._engine.laplace import EPSILON

    X, y, X_new = _ard_linear(60, 100)
    reg = BackpropRegressor((), alpha="ard", random_state=0).fit(X, y)
    assert reg._laplace["kind"] == "last-layer"
    Phi = np.column_stack([X, np.ones(len(X))])
    G = Phi.T @ Phi
    M = G + np.diag(np.r_[reg.alpha_, EPSILON * np.mean(np.diag(G))])
    Phi_new = np.column_stack([X_new, np.ones(len(X_new))])
    q = np.einsum("ij,ji->i", Phi_new, np.linalg.solve(M, Phi_new.T))
    expected = np.sqrt(reg.noise_variance_ * (1 + q))
    # Cholesky against LU, both backward stable: within cond(M) eps.
    cond = np.linalg.cond(M)
    std = reg.predict(X_new, return_std=True)[1]
    np.testing.assert_allclose(std, expected, rtol=100 * cond * np.finfo(float).eps)


def test_ard_error_bars_do_not_depend_on_the_column_order(last_layer_posterior):
    # The first (relevant) input moved last: the fits agree to the loop's
    # tolerance on alpha, and so must their error bars.
    import skbackprop._training.evidence as evidence

    X, y, X_new = _ard_linear(200, 20)
    order = np.roll(np.arange(20), -1)
    stds = [
        BackpropRegressor((), alpha="ard", random_state=0)
        .fit(X[:, cols], y)
        .predict(X_new[:, cols], return_std=True)[1]
        for cols in (np.arange(20), order)
    ]
    np.testing.assert_allclose(stds[1], stds[0], rtol=evidence.ARD_TOL)


@pytest.mark.parametrize(
    "solver",
    ["CG", "BFGS", "TNC", "SLSQP", "Newton-CG", "trust-ncg", "trust-krylov"],
)
def test_scipy_gradient_methods_fit_the_biases_under_tiny_weights(solver):
    # They diverged at their first step (CG, BFGS, SLSQP, the trust-region
    # methods) or stopped with the biases unfitted (TNC, Newton-CG).
    X, y = _sine_problem()
    tol = 1e-6
    reg = BackpropRegressor((5,), solver=solver, tol=tol, random_state=0).fit(
        X, y, sample_weight=np.full(len(y), 1e-200)
    )
    assert max(np.max(np.abs(W)) for W in reg.coefs_) < tol
    # The methods' tolerances differ (gtol, SLSQP's ftol on the cost):
    # sqrt(tol) bounds the bias's error through either.
    np.testing.assert_allclose(reg.predict(X), np.mean(y), rtol=0, atol=np.sqrt(tol))
