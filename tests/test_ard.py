"""alpha="ard": one penalty per input and per later layer, by the evidence."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skbackprop._training.evidence as evidence
import skbackprop._training.evidence_terms as evidence_terms
from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    cost_grad,
    gauss_newton_matrix,
    gauss_newton_vector_product,
    hessian_vector_product,
    init_params,
)
from skbackprop._engine.network import Network
from skbackprop._training.objective import InMemoryObjective


def _relevance_problem(m=200, seed=0):
    """Two relevant inputs and three of pure noise."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(m, 5))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=m)
    return X, y


def test_groups_follow_the_layout():
    net = Network((3, 4, 2, 1), "tanh")
    groups = evidence.Groups(net, ard=True)
    assert groups.n == 3 + 2
    expected = np.concatenate([np.repeat([0, 1, 2], 4), np.full(8, 3), np.full(2, 4)])
    np.testing.assert_array_equal(groups.index, expected)
    np.testing.assert_array_equal(groups.sizes, [4, 4, 4, 8, 2])
    alpha = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(groups.collapse(groups.expand(alpha)), alpha)
    one = evidence.Groups(net)
    assert one.n == 1 and one.expand(np.array([0.5])) == 0.5


def test_a_per_weight_alpha_is_the_penalty_entry_by_entry(noisy_problem, seed):
    X, y = noisy_problem(m=30)
    sizes = (2, 5, 1)
    theta = init_params(sizes, "tanh", seed)
    n_W = 2 * 5 + 5
    alpha = np.random.RandomState(seed + 1).uniform(0, 3, n_W)
    args = (X, y, sizes, "tanh", "squared_error")
    J0, D0 = cost_grad(theta, *args)
    J, D = cost_grad(theta, *args, alpha=alpha)
    W = theta[:n_W]
    assert J == pytest.approx(J0 + 0.5 * np.sum(alpha * W**2) / len(X), rel=1e-13)
    np.testing.assert_allclose(D[:n_W], D0[:n_W] + alpha * W / len(X), rtol=1e-13)
    np.testing.assert_array_equal(D[n_W:], D0[n_W:])
    # A constant array is the float, bit for bit.
    assert cost_grad(theta, *args, alpha=np.full(n_W, 0.3))[0] == pytest.approx(
        cost_grad(theta, *args, alpha=0.3)[0], rel=1e-15
    )
    v = np.random.RandomState(seed + 2).normal(size=len(theta))
    extra = np.concatenate([alpha * v[:n_W], np.zeros(len(theta) - n_W)]) / len(X)
    for product in (hessian_vector_product, gauss_newton_vector_product):
        np.testing.assert_allclose(
            product(theta, v, *args, alpha=alpha),
            product(theta, v, *args) + extra,
            rtol=1e-12,
            atol=1e-14,
        )
    G = gauss_newton_matrix(theta, *args, alpha=alpha)
    G0 = gauss_newton_matrix(theta, *args)
    prior = np.r_[alpha, np.zeros(len(theta) - n_W)] / len(X)
    # G - G0: the prior, to the rounding of G's entries.
    atol = 4 * np.finfo(float).eps * np.abs(G).max()
    np.testing.assert_allclose(G - G0, np.diag(prior), atol=atol)


@pytest.mark.parametrize(
    "alpha, match",
    [
        (np.ones(14), r"shape \(15,\); got shape \(14,\)"),
        (np.ones((15, 1)), r"got shape \(15, 1\)"),
        (np.r_[-1.0, np.ones(14)], "finite and non-negative"),
        (np.r_[np.nan, np.ones(14)], "finite and non-negative"),
        (np.ones(15) * 1j, "Complex data not supported: alpha"),
    ],
)
def test_a_per_weight_alpha_is_checked(alpha, match, noisy_problem):
    X, y = noisy_problem(m=10)
    sizes = (2, 5, 1)
    theta = init_params(sizes, "tanh", 0)
    args = (X, y, sizes, "tanh", "squared_error")
    v = np.ones_like(theta)
    for call in (
        lambda: cost_grad(theta, *args, alpha=alpha),
        lambda: hessian_vector_product(theta, v, *args, alpha=alpha),
        lambda: gauss_newton_vector_product(theta, v, *args, alpha=alpha),
        lambda: gauss_newton_matrix(theta, *args, alpha=alpha),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_reestimate_by_groups_equals_a_hand_computation(
    noisy_problem, tanh_jacobian, tanh_logits, seed
):
    X, y = noisy_problem(m=50)
    sizes = (2, 3, 1)
    net = Network(sizes, "tanh", "squared_error")
    groups = evidence.Groups(net, ard=True)
    theta = init_params(sizes, "tanh", seed) * 3
    alpha_g = np.array([0.5, 2.0, 0.1])
    objective = InMemoryObjective(net, X, y, None, groups.expand(alpha_g))
    got = evidence.reestimate(objective, theta, evidence_terms.Exact(), groups=groups)

    n_W, n_b, N = net.n_coefs, net.n_params - net.n_coefs, len(X)
    a = groups.expand(alpha_g)
    Jac = tanh_jacobian(theta, X, sizes)[:, 0, :]
    G = Jac.T @ Jac
    epsilon = 1e-6 * np.mean(np.diag(G))
    M = G + np.diag(np.r_[a, np.full(n_b, epsilon)])
    M_inv = np.linalg.inv(M)
    in_group = groups.index == np.arange(3)[:, None]
    gammas = np.array([np.sum(1 - (a * np.diag(M_inv)[:n_W])[g]) for g in in_group])
    W, b = theta[:n_W], theta[n_W:]
    E_W = np.array([0.5 * np.sum(W[g] ** 2) for g in in_group])
    E_D = 0.5 * np.sum((tanh_logits(theta, X, sizes) - y) ** 2)
    beta = (N - gammas.sum() - n_b) / (2 * E_D)
    alpha_w = alpha_g * beta
    log_evidence = (
        -beta * E_D
        - alpha_w @ E_W
        - beta * epsilon * 0.5 * (b @ b)
        - 0.5 * np.linalg.slogdet(beta * M)[1]
        + 0.5 * groups.sizes @ np.log(alpha_w)
        + 0.5 * n_b * np.log(beta * epsilon)
        + 0.5 * N * np.log(beta)
        - 0.5 * N * np.log(2 * np.pi)
    )
    np.testing.assert_allclose(got.gammas, gammas, rtol=1e-10)
    assert got.gamma == pytest.approx(gammas.sum(), rel=1e-10)
    assert got.beta == pytest.approx(beta, rel=1e-10)
    assert got.log_evidence == pytest.approx(log_evidence, rel=1e-10)
    np.testing.assert_allclose(got.next_alpha, gammas / (2 * E_W) / beta, rtol=1e-10)


def test_ard_switches_off_the_irrelevant_inputs(seed):
    X, y = _relevance_problem(seed=seed)
    with warnings.catch_warnings():
        # No warning: the runs the loop cuts short are not failures.
        warnings.simplefilter("error")
        reg = BackpropRegressor((8,), "tanh", alpha="ard", random_state=seed)
        reg.fit(X, y)
    assert reg.alpha_.shape == (5 + 1,)
    relevant, noise = reg.alpha_[:2], reg.alpha_[2:5]
    assert noise.min() > 100 * relevant.max()
    # A precision 100 times larger is a prior 10 times narrower: the noise
    # inputs' weights are held within a tenth of the relevant ones'.
    W1 = reg.coefs_[0]
    assert np.abs(W1[2:]).max() < 0.1 * np.abs(W1[:2]).max()
    assert 0 < reg.n_effective_params_ < reg.coefs_[0].size + 8 + 8 + 1
    assert len(reg.evidence_curve_) >= 2
    # One penalty for all would keep using the noise: ARD predicts better.
    X_test, y_test = _relevance_problem(m=2000, seed=seed + 1)
    one = BackpropRegressor((8,), "tanh", alpha="evidence", random_state=seed)
    one.fit(X, y)
    assert reg.score(X_test, y_test) > one.score(X_test, y_test)
    mean, std = reg.predict(X_test, return_std=True)
    assert np.all(std > 0) and np.all(np.isfinite(mean))
    assert reg.noise_variance_ == pytest.approx(0.01, rel=0.5)


def test_ard_is_reproducible_and_works_for_every_loss(seed):
    X, y = _relevance_problem(m=80, seed=seed)
    fits = [
        BackpropRegressor((4, 3), "tanh", alpha="ard", random_state=seed + 3).fit(X, y)
        for _ in range(2)
    ]
    assert fits[0].alpha_.shape == (5 + 2,)
    assert fits[0].evidence_curve_ == fits[1].evidence_curve_
    np.testing.assert_array_equal(fits[0].alpha_, fits[1].alpha_)
    clf = BackpropClassifier((4,), "tanh", alpha="ard", random_state=seed)
    clf.fit(X, y > np.median(y))
    assert clf.alpha_.shape == (6,)
    assert np.all(clf.alpha_ > 0) and clf.score(X, y > np.median(y)) > 0.8


def test_a_switched_off_group_keeps_its_alpha_and_counts_as_settled():
    def estimate(gammas, alpha, next_alpha, beta=1.0):
        gammas = np.asarray(gammas, float)
        return evidence.Estimate(
            np.asarray(alpha, float),
            beta,
            float(gammas.sum()),
            0.0,
            np.asarray(next_alpha, float),
            None,
            gammas,
        )

    old = estimate([5.0, 5.0, 0.001], [1.0, 1.0, 1e4], [1.0, 1.0, 1e5])
    new = estimate([5.0, 5.0, 0.001], [1.0, 1.0, 1e5], [1.0, 1.0, 1e6])
    np.testing.assert_array_equal(evidence._off(new), [False, False, True])
    assert evidence._settled(new, old)
    # An alpha still moving while its gamma_g moves too: not settled...
    moving = estimate([5.2, 4.8, 0.001], [1.0, 1.0, 1e5], [1.5, 1.0, 1e6])
    assert not evidence._settled(moving, old)
    # ... but jittering at a steady gamma_g (cut inner runs): settled.
    jitter = estimate([5.01, 4.99, 0.001], [1.0, 1.0, 1e5], [1.05, 1.0, 1e6])
    assert evidence._settled(jitter, old)
    # One group (alpha="evidence") must have its alpha settled.
    one_old = estimate([5.0], [1.0], [1.05])
    assert not evidence._settled(estimate([5.0], [1.05], [1.1]), one_old)


def test_the_loop_keeps_the_fit_of_the_best_evidence():
    # (kept outer iteration, iterations after it): the last that raised the
    # best so far by more than EVIDENCE_TOL (1 nat).
    assert evidence.EVIDENCE_TOL == 1.0
    assert evidence._best([-10.0]) == (0, 0)
    assert evidence._best([-10.0, -9.0, -8.9, -8.8]) == (2, 1)
    assert evidence._best([-20.0, -9.0, -8.9, -8.8, -8.5, -8.2]) == (1, 4)
    assert evidence._best([-9.0, -8.9, -8.8, -8.5, -7.9]) == (4, 0)
    # Jitter around the fixed point (nearly separable classes): the best.
    assert evidence._best([0.0, 78.5, 34.4, 56.1]) == (1, 2)
    assert evidence._best([-np.inf, np.nan, -5.0]) == (2, 0)


def test_ard_settings_are_refused_like_the_evidence(noisy_problem):
    X, y = noisy_problem(m=40)
    with pytest.raises(ValueError, match="alpha='ard' .*early_stopping"):
        BackpropRegressor(alpha="ard", early_stopping=True).fit(X, y.ravel())
    with pytest.raises(ValueError, match="alpha='ard' .*partial_fit"):
        BackpropRegressor(alpha="ard", solver="gd").partial_fit(X, y.ravel())


def test_ard_on_estimates_above_the_exact_limit(monkeypatch, seed):
    monkeypatch.setattr(evidence_terms, "EXACT_LIMIT", 20)
    monkeypatch.setattr(evidence_terms, "N_PROBES", 24)
    X, y = _relevance_problem(m=120, seed=seed)
    kwargs = dict(alpha="ard", random_state=seed)
    reg = BackpropRegressor((4,), "tanh", **kwargs).fit(X, y)
    assert reg.alpha_[2:5].min() > 10 * reg.alpha_[:2].max()


def test_ard_verbose_output_names_the_groups(capsys, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_ITER", 2)
    X, y = _relevance_problem(m=60)
    reg = BackpropRegressor((4,), "tanh", alpha="ard", verbose=True, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"not settle .* to .* \(6 groups\)"):
        reg.fit(X, y)
    out = capsys.readouterr().out
    assert "Evidence: alpha = " in out and "(6 groups)" in out
