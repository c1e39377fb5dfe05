"""The logits' Jacobian, its products and the dense Gauss-Newton matrix."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from skbackprop import (
    check_gradient,
    cost_grad,
    gauss_newton_matrix,
    gauss_newton_vector_product,
    jacobian_transpose_vector_product,
    jacobian_vector_product,
    output_jacobian,
    predict_network,
)
from skbackprop._engine import gauss_newton, jacobian, threads
from skbackprop._engine.network import Network

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
LOSSES = ["log_loss", "binary_log_loss", "squared_error", "poisson"]


def _logits(theta, X, sizes, activation):
    # The identity output of squared error: predict_network returns Z(L).
    return predict_network(theta, X, sizes, activation, "squared_error")


def _fd_jacobian(theta, X, sizes, activation, h=1e-6):
    """Central differences of the logits along every coordinate."""
    columns = [
        (
            _logits(theta + h * e, X, sizes, activation)
            - _logits(theta - h * e, X, sizes, activation)
        )
        / (2 * h)
        for e in np.eye(theta.size)
    ]
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("hidden", [(), (4,), (3, 4)])
def test_dense_jacobian_matches_finite_differences(
    make_problem, make_theta, activation, sparse, hidden
):
    X, Y = make_problem("log_loss", n_samples=9, sparse=sparse)
    sizes = (X.shape[1], *hidden, Y.shape[1])
    theta = make_theta(X, sizes, activation)
    Jac = output_jacobian(theta, X, sizes, activation)
    assert Jac.shape == (9, 3, theta.size)
    np.testing.assert_allclose(
        Jac, _fd_jacobian(theta, X, sizes, activation), rtol=0, atol=1e-8
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sparse", [False, True])
def test_products_match_the_dense_jacobian(
    make_problem, make_theta, activation, sparse, seed
):
    X, Y = make_problem("squared_error", n_samples=11, sparse=sparse)
    sizes = (X.shape[1], 5, 3, Y.shape[1])
    theta = make_theta(X, sizes, activation)
    rng = np.random.default_rng(seed + 3)
    v, U = rng.normal(size=theta.size), rng.normal(size=Y.shape)
    Jac = output_jacobian(theta, X, sizes, activation, chunk_size=4)
    Jv = jacobian_vector_product(theta, v, X, sizes, activation, chunk_size=4)
    JtU = jacobian_transpose_vector_product(
        theta, U, X, sizes, activation, chunk_size=4
    )
    np.testing.assert_allclose(Jv, Jac @ v, rtol=0, atol=1e-13)
    np.testing.assert_allclose(JtU, np.einsum("ik,ikp->p", U, Jac), rtol=0, atol=1e-13)
    # J v is the logits' directional derivative.
    h = 1e-6
    fd = (
        _logits(theta + h * v, X, sizes, activation)
        - _logits(theta - h * v, X, sizes, activation)
    ) / (2 * h)
    np.testing.assert_allclose(Jv, fd, rtol=0, atol=1e-8)


def test_transpose_product_of_the_output_signal_is_the_gradient(
    make_problem, make_theta, seed
):
    # J' (s (A - Y)) / S is the data part of D (squared error: A = Z).
    X, Y = make_problem("squared_error", n_samples=13)
    sizes = (X.shape[1], 4, Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    sw = np.random.default_rng(seed).uniform(0, 2, 13)
    U = sw[:, None] * (_logits(theta, X, sizes, "tanh") - Y) / sw.sum()
    D = cost_grad(theta, X, Y, sizes, "tanh", "squared_error", 0.0, sw)[1]
    JtU = jacobian_transpose_vector_product(theta, U, X, sizes, "tanh")
    np.testing.assert_allclose(JtU, D, rtol=0, atol=1e-14)
    # A 1-D signal is one output's column.
    X1, y1 = X, Y[:, 0]
    sizes1 = (X.shape[1], 4, 1)
    theta1 = make_theta(X, sizes1, "tanh")
    np.testing.assert_array_equal(
        jacobian_transpose_vector_product(theta1, y1, X1, sizes1, "tanh"),
        jacobian_transpose_vector_product(theta1, y1[:, None], X1, sizes1, "tanh"),
    )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gauss_newton_matrix_times_v_is_the_product(
    make_problem, make_theta, loss, activation, weighted, seed
):
    X, Y = make_problem(loss, n_samples=12, sparse=activation == "relu")
    sizes = (X.shape[1], 3, 3, Y.shape[1])
    theta = make_theta(X, sizes, activation)
    sw = np.random.default_rng(seed + 1).uniform(0, 3, 12) if weighted else None
    args = (X, Y, sizes, activation, loss, 0.3, sw)
    G = gauss_newton_matrix(theta, *args, chunk_size=5)
    np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-14 * np.abs(G).max())
    assert np.linalg.eigvalsh(G).min() > -1e-12
    for k in range(3):
        v = np.random.default_rng(seed + k).normal(size=theta.size)
        Gv = gauss_newton_vector_product(theta, v, *args)
        np.testing.assert_allclose(G @ v, Gv, rtol=0, atol=1e-12 * np.abs(Gv).max())


@pytest.mark.parametrize("loss", LOSSES)
def test_one_pass_gives_the_cost_and_gradient(make_problem, make_theta, loss, seed):
    X, Y = make_problem(loss, n_samples=14)
    sizes = (X.shape[1], 4, Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    sw = np.random.default_rng(seed + 2).uniform(0, 2, 14)
    net = Network(sizes, "tanh", loss)
    J, D, _ = gauss_newton.network_gauss_newton(net, theta, X, Y, sw, 0.2)
    J0, D0 = net.cost_grad(theta, X, Y, sw, 0.2)
    assert J == pytest.approx(J0, rel=1e-13)
    np.testing.assert_allclose(D, D0, rtol=0, atol=1e-14)
    assert gauss_newton.network_cost(net, theta, X, Y, sw, 0.2) == pytest.approx(
        J0, rel=1e-13
    )

    # D from the Jacobian rows against central differences of J.
    def fun(t):
        return gauss_newton.network_gauss_newton(net, t, X, Y, sw, 0.2)[:2]

    assert check_gradient(fun, theta) < 1e-7


def test_gauss_newton_splits_over_blocks_and_workers(
    monkeypatch, make_problem, make_theta
):
    # Sums over row blocks and row workers add up to the one-block result.
    X, Y = make_problem("log_loss", n_samples=200)
    sizes = (X.shape[1], 5, Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    net = Network(sizes, "tanh", "log_loss")
    whole = gauss_newton.network_gauss_newton(net, theta, X, Y, None, 0.1)
    monkeypatch.setattr(jacobian, "_JACOBIAN_ELEMENTS", 7 * 3 * net.n_params)
    monkeypatch.setattr(threads, "MIN_ROWS_PER_WORKER", 50)
    monkeypatch.setattr(threads, "MIN_WORK_PER_WORKER", 0)
    workers = []
    original = threads.map_rows

    def spy(fn, m, work_per_row):
        def recorded(k, start, stop):
            workers.append(k)
            return fn(k, start, stop)

        return original(recorded, m, work_per_row)

    monkeypatch.setattr(threads, "map_rows", spy)
    assert jacobian.jacobian_rows(net) == 7
    with threadpool_limits(2, user_api="blas"):
        split = gauss_newton.network_gauss_newton(net, theta, X, Y, None, 0.1)
    assert sorted(workers) == [0, 1]
    assert split[0] == pytest.approx(whole[0], rel=1e-14)
    for a, b in zip(split[1:], whole[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)

    with threadpool_limits(2, user_api="blas"):
        cost = gauss_newton.network_cost(net, theta, X, Y, None, 0.1)
    assert sorted(workers) == [0, 0, 1, 1]  # the cost splits the same way
    assert cost == pytest.approx(whole[0], rel=1e-14)


@pytest.mark.parametrize("loss", ["squared_error", "log_loss"])
@pytest.mark.parametrize("activation", ["tanh", "logistic", "identity"])
def test_geodesic_product_is_the_literal_one(
    make_problem, make_theta, loss, activation, seed
):
    # (1/S) sum_i s_i J_i' H_i r_vv,i from the dense Jacobian, the loss's
    # Hessians and central second differences of the logits along v.
    X, Y = make_problem(loss, n_samples=30)
    sizes = (X.shape[1], 4, 3, Y.shape[1])
    theta = make_theta(X, sizes, activation)
    rng = np.random.default_rng(seed + 1)
    v, sw = 0.5 * rng.normal(size=theta.size), rng.uniform(0.2, 3.0, 30)
    net = Network(sizes, activation, loss)
    got = gauss_newton.network_geodesic(net, theta, v, X, Y, sw)

    def second_difference(h):
        f = [_logits(theta + t * v, X, sizes, activation) for t in (-h, 0, h)]
        return (f[0] - 2 * f[1] + f[2]) / h**2, f[1]

    # D(h) = r_vv + h^2 r_vvvv / 12 + O(h^4): Richardson's
    # R(h) = (4 D(h/2) - D(h)) / 3 is exact to O(h^4), so that |R(h) - R(h/2)|
    # bounds R(h/2)'s error 15 times over; plus the rounding of the
    # differences, a few eps |Z| / (h/4)^2.
    h = 1e-2
    (D_0, logits), (D_1, _), (D_2, _) = (second_difference(h / 2**k) for k in range(3))
    R_0, r_vv = (4 * D_1 - D_0) / 3, (4 * D_2 - D_1) / 3
    scale = np.abs(logits).max(axis=1, keepdims=True)
    error = np.abs(R_0 - r_vv) + 16 * np.finfo(float).eps * scale / (h / 4) ** 2
    Jac = output_jacobian(theta, X, sizes, activation)
    H = gauss_newton.output_hessians(net, logits, Y)
    want = np.einsum("i,ikp,ikl,il->p", sw, Jac, H, r_vv) / sw.sum()
    bound = np.einsum("i,ikp,ikl,il->p", sw, np.abs(Jac), np.abs(H), error)
    assert np.all(np.abs(got - want) <= bound / sw.sum())
    # Its second derivatives are exact: the R-operator's, not differences.
    _, exact = next(jacobian.blocks(net, theta, X, 30, second=True))[2].jvp2(v)
    assert np.all(np.abs(exact - r_vv) <= error)


def test_geodesic_product_splits_over_blocks_and_workers(
    monkeypatch, make_problem, make_theta, seed
):
    X, Y = make_problem("log_loss", n_samples=200)
    sizes = (X.shape[1], 5, Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    v = np.random.default_rng(seed + 2).normal(size=theta.size)
    net = Network(sizes, "tanh", "log_loss")
    whole = gauss_newton.network_geodesic(net, theta, v, X, Y)
    parts = [
        gauss_newton.geodesic_sum(net, theta, v, X[a:b], Y[a:b], None)
        for a, b in [(0, 77), (77, 200)]
    ]
    np.testing.assert_allclose(sum(parts) / 200, whole, rtol=0, atol=1e-14)
    monkeypatch.setattr(threads, "MIN_ROWS_PER_WORKER", 50)
    monkeypatch.setattr(threads, "MIN_WORK_PER_WORKER", 0)
    net = Network(sizes, "tanh", "log_loss", chunk_size=9)
    with threadpool_limits(2, user_api="blas"):
        split = gauss_newton.network_geodesic(net, theta, v, X, Y)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-14)


def test_mirror_upper_by_blocks(seed):
    # Blocks of 64 on 150 parameters: every case of the block loop, and the
    # strict lower triangle is ignored (overwritten), not added.
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(150, 150))
    expected = np.triu(G) + np.triu(G, 1).T
    np.testing.assert_array_equal(gauss_newton.mirror_upper(G), expected)


def test_cost_and_gauss_newton_memory_is_flat_in_rows(make_theta, seed):
    # One block at a time: 5x the rows, the same peak allocation (the whole
    # Z(L) and row losses of the cost made it grow by 16 bytes a row).
    sizes = (3, 8, 1)
    net = Network(sizes, "tanh", "squared_error")
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(200_000, 3)), rng.normal(size=(200_000, 1))
    theta = make_theta(X, sizes, "tanh")
    v = rng.normal(size=theta.shape)

    def geodesic(net, theta, X, Y):
        return gauss_newton.network_geodesic(net, theta, v, X, Y)

    passes = (gauss_newton.network_cost, gauss_newton.network_gauss_newton, geodesic)
    peaks = []
    for m in (40_000, 200_000):
        with threadpool_limits(1, user_api="blas"):
            for fn in passes:
                fn(net, theta, X[:m], Y[:m])  # first-call caches
                tracemalloc.start()
                fn(net, theta, X[:m], Y[:m])
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
    assert jacobian.jacobian_rows(net) < 40_000
    assert jacobian.linearization_rows(net, second=True) < 40_000
    for small, large in zip(peaks[:3], peaks[3:], strict=True):
        assert large < small + 8 * 1024


def test_float32(make_problem, make_theta):
    X, Y = make_problem("binary_log_loss", n_samples=20)
    sizes = (X.shape[1], 4, Y.shape[1])
    theta = make_theta(X, sizes, "logistic")
    G64 = gauss_newton_matrix(theta, X, Y, sizes, "logistic", "binary_log_loss", 0.1)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    G32 = gauss_newton_matrix(
        theta, X32, Y32, sizes, "logistic", "binary_log_loss", 0.1
    )
    Jac32 = output_jacobian(theta, X32, sizes, "logistic")
    assert G32.dtype == Jac32.dtype == np.float32
    np.testing.assert_allclose(G32, G64, rtol=0, atol=1e-6)


def test_bad_arguments_raise(make_problem, make_theta):
    X, Y = make_problem("squared_error", n_samples=6)
    sizes = (X.shape[1], 3, Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    with pytest.raises(ValueError, match="v must have shape"):
        jacobian_vector_product(theta, np.ones(3), X, sizes)
    with pytest.raises(ValueError, match="do not match"):
        jacobian_transpose_vector_product(theta, np.ones((6, 5)), X, sizes)
    with pytest.raises(ValueError, match="do not match"):
        output_jacobian(theta, X[:, :2], sizes)
    with pytest.raises(ValueError, match="empty batch"):
        gauss_newton_matrix(theta, X[:0], Y[:0], sizes)
    with pytest.raises(ValueError, match="positive sum"):
        gauss_newton_matrix(
            theta, X, Y, sizes, loss="squared_error", sample_weight=np.zeros(6)
        )
    with pytest.raises(ValueError, match="theta must be"):
        output_jacobian(theta[:-1], X, sizes)


def test_sparse_and_dense_inputs_agree(make_problem, make_theta):
    X, Y = make_problem("poisson", n_samples=10)
    sizes = (X.shape[1], 4, Y.shape[1])
    theta = make_theta(X, sizes, "relu")
    dense = gauss_newton_matrix(theta, X, Y, sizes, "relu", "poisson")
    csr = gauss_newton_matrix(theta, sp.csr_matrix(X), Y, sizes, "relu", "poisson")
    # The same sums in another order.  G = J' H J / S is positive
    # semi-definite, so that each entry's terms sum in absolute value to at
    # most max |G_ii|: the orders differ by a few eps per term at most.
    n_terms = X.shape[0] + X.shape[1]
    atol = n_terms * np.finfo(float).eps * np.abs(dense).max()
    np.testing.assert_allclose(csr, dense, rtol=0, atol=atol)


def test_hessian_roots_leave_out_softmax_null_direction(seed):
    # Softmax's H_i = diag(p) - p p' has H_i 1 = 0: its root has one column
    # fewer, and R R' is H to rounding, nearly one-hot rows included.
    rng = np.random.RandomState(seed)
    logits = rng.normal(scale=3.0, size=(50, 4))
    logits[:5, 0] += 40.0  # probabilities one-hot to 1e-17
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    H = np.einsum("rk,kl->rkl", p, np.eye(4)) - np.einsum("rk,rl->rkl", p, p)
    R = gauss_newton.hessian_roots(H)
    assert R.shape == (50, 4, 3)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), H, rtol=0, atol=1e-15)
    # A positive definite H keeps every direction.
    A = rng.normal(size=(50, 4, 4))
    spd = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(4)
    R = gauss_newton.hessian_roots(spd)
    assert R.shape == (50, 4, 4)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), spd, rtol=1e-12, atol=1e-12)
