"""Stochastic trace and log-determinant against dense linear algebra."""

import numpy as np
import pytest

from skbackprop._engine.hutchinson import (
    conjugate_gradients,
    diagonal_and_log_det,
    rademacher,
)


def _spd(n, seed, condition=1e3):
    rng = np.random.RandomState(seed)
    Q, _ = np.linalg.qr(rng.randn(n, n))
    values = np.logspace(0, np.log10(condition), n)
    return (Q * values) @ Q.T


def test_conjugate_gradients_solves_and_its_lanczos_matrix_has_the_quadrature():
    M = _spd(30, 0)
    z = rademacher(np.random.RandomState(1), 1, 30)[0]
    x, diag, off, _ = conjugate_gradients(lambda v: M @ v, z, 1e-12, 100)
    np.testing.assert_allclose(M @ x, z, atol=1e-9)
    # Run to convergence, the Gauss quadrature of T, ||z||^2 e1' log(T) e1,
    # reproduces z' log(M) z.
    T = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    values, vectors = np.linalg.eigh(T)
    quadrature = (z @ z) * (vectors[0] ** 2 @ np.log(values))
    w, V = np.linalg.eigh(M)
    exact = z @ (V * np.log(w)) @ V.T @ z
    assert quadrature == pytest.approx(exact, rel=1e-8)


@pytest.mark.parametrize("precondition", [False, True])
def test_estimates_converge_to_the_exact_trace_and_log_det(precondition):
    n = 60
    M = _spd(n, 2)
    # Uneven scales, as between a network's weights and biases.
    d = np.logspace(-2, 2, n)
    M = M * np.sqrt(d)[:, None] * np.sqrt(d)[None, :]
    scale = 1 / np.sqrt(np.diag(M)) if precondition else np.ones(n)
    mask = (np.arange(n) < 40).astype(float)
    probes = rademacher(np.random.RandomState(3), 400, n)
    diagonal, log_det, n_products = diagonal_and_log_det(
        lambda v: scale * (M @ (scale * v)), scale, probes, mask, 1e-10, 500, 60
    )
    exact_diagonal = np.diag(np.linalg.inv(M))[:40]
    exact_log_det = np.linalg.slogdet(M)[1]
    # 400 probes: a few percent for the trace and for the sums over groups
    # of 20 entries, a fraction of one for log det.
    assert np.all(diagonal[40:] == 0)
    assert diagonal.sum() == pytest.approx(exact_diagonal.sum(), rel=0.05)
    for group in (slice(0, 20), slice(20, 40)):
        assert diagonal[group].sum() == pytest.approx(
            exact_diagonal[group].sum(), rel=0.1
        )
    assert log_det == pytest.approx(exact_log_det, rel=0.01)
    assert n_products >= 400


def test_rademacher_probes_are_plus_minus_one_and_seeded():
    a = rademacher(np.random.RandomState(0), 4, 7)
    b = rademacher(np.random.RandomState(0), 4, 7)
    assert a.shape == (4, 7) and set(np.unique(a)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(a, b)
