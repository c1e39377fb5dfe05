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


def test_conjugate_gradients_solves_and_its_lanczos_matrix_has_the_quadrature(seed):
    M = _spd(30, seed)
    z = rademacher(np.random.RandomState(seed + 1), 1, 30)[0]
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
def test_estimates_converge_to_the_exact_trace_and_log_det(
    precondition, seed, hutchinson_std
):
    n, n_probes = 60, 100
    M = _spd(n, seed + 2)
    # Uneven scales, as between a network's weights and biases.
    d = np.logspace(-2, 2, n)
    M = M * np.sqrt(d)[:, None] * np.sqrt(d)[None, :]
    scale = 1 / np.sqrt(np.diag(M)) if precondition else np.ones(n)
    mask = (np.arange(n) < 40).astype(float)
    probes = rademacher(np.random.RandomState(seed + 3), n_probes, n)
    diagonal, log_det, n_products = diagonal_and_log_det(
        lambda v: scale * (M @ (scale * v)), scale, probes, mask, 1e-10, 500, 500
    )
    M_inv = np.linalg.inv(M)
    # Each estimate is a mean of z' B z over the probes, within four of its
    # standard errors of tr(B): B = E_g M^-1 P for the sum over a group g of
    # the masked entries, B = log(C) for log det M - sum log diag(C)'s
    # scaling, C the preconditioned matrix.  The solves to 1e-10 and the
    # Lanczos quadrature are exact far below these errors: without the
    # preconditioner (C's condition number about 5e5) the quadrature needs
    # more than 60 steps for 60 rows, as Lanczos loses orthogonality.
    assert np.all(diagonal[40:] == 0)
    for group in (slice(0, 40), slice(0, 20), slice(20, 40)):
        B = np.zeros((n, n))
        B[group, :40] = M_inv[group, :40]
        assert abs(diagonal[group].sum() - np.trace(B)) <= 4 * hutchinson_std(
            B, n_probes
        )
    C = scale[:, None] * M * scale[None, :]
    values, vectors = np.linalg.eigh(C)
    log_C = (vectors * np.log(values)) @ vectors.T
    assert abs(log_det - np.linalg.slogdet(M)[1]) <= 4 * hutchinson_std(log_C, n_probes)
    assert n_products >= n_probes


def test_rademacher_probes_are_plus_minus_one_and_seeded():
    a = rademacher(np.random.RandomState(0), 4, 7)
    b = rademacher(np.random.RandomState(0), 4, 7)
    assert a.shape == (4, 7) and set(np.unique(a)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(a, b)
