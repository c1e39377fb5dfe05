"""The row workers: same results as one thread, BLAS setting restored."""

import multiprocessing
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import skbackprop._engine.network as network
import skbackprop._engine.threads as threads
from skbackprop import (
    BackpropClassifier,
    cost_grad,
    gauss_newton_vector_product,
    hessian_vector_product,
    n_params,
    predict_network,
)

SIZES = (4, 6, 5)


def _blas_threads():
    info = threadpool_info()
    return [lib["num_threads"] for lib in info if lib["user_api"] == "blas"]


@pytest.fixture
def two_workers(monkeypatch):
    """Row workers from 50 rows on, and two BLAS threads to split between."""
    monkeypatch.setattr(threads, "MIN_ROWS_PER_WORKER", 50)
    monkeypatch.setattr(threads, "MIN_WORK_PER_WORKER", 0)
    with threadpool_limits(2, user_api="blas"):
        yield


def _serial(monkeypatch, func, *args, **kwargs):
    with monkeypatch.context() as mp:
        mp.setattr(threads, "MIN_ROWS_PER_WORKER", 10**9)
        return func(*args, **kwargs)


def _spy_workers(monkeypatch):
    """Record the worker index of every range :func:`threads.map_rows` runs."""
    calls = []
    original = threads.map_rows

    def spy(fn, m, work_per_row):
        def recorded(k, start, stop):
            calls.append(k)
            return fn(k, start, stop)

        return original(recorded, m, work_per_row)

    monkeypatch.setattr(threads, "map_rows", spy)
    return calls


# GELU layers keep Z(l): each worker in buffers of its own.
@pytest.mark.parametrize("activation", ["tanh", "gelu"])
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_workers_equal_one_thread(
    two_workers,
    monkeypatch,
    make_problem,
    make_theta,
    loss,
    weighted,
    sparse,
    activation,
):
    X, Y = make_problem(loss, n_samples=301, n_features=SIZES[0], sparse=sparse)
    sizes = (SIZES[0], SIZES[1], Y.shape[1])
    theta = make_theta(X, sizes, activation)
    sw = np.random.default_rng(1).random(301) if weighted else None
    args = (theta, X, Y, sizes, activation, loss, 0.3, sw)
    calls = _spy_workers(monkeypatch)
    J, D = cost_grad(*args, chunk_size=40)
    assert sorted(calls) == [0, 1]  # both workers ran
    J_ref, D_ref = _serial(monkeypatch, cost_grad, *args, chunk_size=40)
    np.testing.assert_allclose(J, J_ref, rtol=1e-12)
    np.testing.assert_allclose(D, D_ref, rtol=1e-10, atol=1e-14)
    # Deterministic: the parts are added in a fixed order.
    J2, D2 = cost_grad(*args, chunk_size=40)
    assert J2 == J and np.array_equal(D2, D)


def test_blas_threads_restored(two_workers, make_problem, make_theta):
    X, Y = make_problem("log_loss", n_samples=200, n_features=SIZES[0])
    theta = make_theta(X, (SIZES[0], SIZES[1], 3), "relu")
    before = _blas_threads()
    cost_grad(theta, X, Y, (SIZES[0], SIZES[1], 3))
    assert _blas_threads() == before == [2] * len(before)


def test_worker_error_is_raised_and_blas_restored(
    two_workers, monkeypatch, make_problem, make_theta
):
    X, Y = make_problem("log_loss", n_samples=200, n_features=SIZES[0])
    theta = make_theta(X, (SIZES[0], SIZES[1], 3), "relu")
    original = network.Network.accumulate

    def fail_in_worker_1(self, *a):
        if a[-1] == 1:  # the worker index
            raise MemoryError("worker 1")
        return original(self, *a)

    monkeypatch.setattr(network.Network, "accumulate", fail_in_worker_1)
    before = _blas_threads()
    with pytest.raises(MemoryError, match="worker 1"):
        cost_grad(theta, X, Y, (SIZES[0], SIZES[1], 3))
    assert _blas_threads() == before


def test_overflow_without_warnings_in_workers(two_workers, make_problem):
    # np.errstate does not carry over to new threads: each worker sets its own.
    X, Y = make_problem("log_loss", n_samples=200, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], 3)
    theta = np.full(n_params(sizes), 1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, _ = cost_grad(theta, X, Y, sizes, "identity")
    assert not np.isfinite(J)  # the overflow happened, silently


def test_small_batches_stay_in_the_calling_thread(
    monkeypatch, make_problem, make_theta
):
    X, Y = make_problem("log_loss", n_samples=100, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], 3)
    with threadpool_limits(2, user_api="blas"):
        calls = _spy_workers(monkeypatch)
        cost_grad(make_theta(X, sizes, "relu"), X, Y, sizes)
    assert calls == [0]


def _child_cost(queue, theta, X, Y, sizes):
    queue.put(float(cost_grad(theta, X, Y, sizes)[0]))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)
def test_forked_child_gets_its_own_helper_threads(
    two_workers, make_problem, make_theta
):
    # A forked child inherits the pool object but not its threads.
    X, Y = make_problem("log_loss", n_samples=200, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], 3)
    theta = make_theta(X, sizes, "relu")
    J = cost_grad(theta, X, Y, sizes)[0]  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_cost, args=(queue, theta, X, Y, sizes))
    child.start()
    try:
        assert queue.get(timeout=30) == pytest.approx(J, rel=1e-12)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


@pytest.mark.parametrize(
    "product", [hessian_vector_product, gauss_newton_vector_product]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_curvature_products_split_between_workers(
    two_workers, monkeypatch, make_problem, make_theta, product, weighted
):
    X, Y = make_problem("log_loss", n_samples=301, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    v = np.random.default_rng(2).normal(size=theta.shape)
    sw = np.random.default_rng(1).random(301) if weighted else None
    args = (theta, v, X, Y, sizes, "tanh", "log_loss", 0.3, sw)
    calls = _spy_workers(monkeypatch)
    Hv = product(*args)
    assert sorted(calls) == [0, 1]
    Hv_ref = _serial(monkeypatch, product, *args)
    np.testing.assert_allclose(Hv, Hv_ref, rtol=1e-10, atol=1e-14)
    assert np.array_equal(product(*args), Hv)


def test_forward_split_between_workers(
    two_workers, monkeypatch, make_problem, make_theta
):
    X, Y = make_problem("log_loss", n_samples=301, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], Y.shape[1])
    theta = make_theta(X, sizes, "relu")
    calls = _spy_workers(monkeypatch)
    P = predict_network(theta, X, sizes)
    assert sorted(calls) == [0, 1]
    P_ref = _serial(monkeypatch, predict_network, theta, X, sizes)
    np.testing.assert_allclose(P, P_ref, rtol=1e-12)
    assert P.shape == (301, Y.shape[1])


@pytest.mark.parametrize("solver", ["L-BFGS-B", "trust-ncg", "gd"])
def test_fit_holds_one_blas_thread_between_evaluations(two_workers, solver):
    # Between evaluations an optimizer's own BLAS calls would wake BLAS's
    # threads to spin on the workers' cores: the fit keeps BLAS at one thread
    # throughout, and restores the user's setting afterwards.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int)
    seen = []

    def callback(state):
        seen.append(_blas_threads())

    before = _blas_threads()
    BackpropClassifier(
        hidden_layer_sizes=(6,), solver=solver, max_iter=3, callback=callback
    ).fit(X, y)
    assert seen and all(t == [1] * len(before) for t in seen)
    assert _blas_threads() == before == [2] * len(before)


def test_small_fits_keep_the_users_blas_threads(monkeypatch):
    # Mini-batches (or data sets) too small to split run on the user's BLAS.
    monkeypatch.setattr(threads, "MIN_WORK_PER_WORKER", 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = (X[:, 0] > 0).astype(int)
    seen = []
    with threadpool_limits(2, user_api="blas"):
        BackpropClassifier(
            hidden_layer_sizes=(6,),
            solver="gd",
            batch_size=200,
            max_iter=2,
            callback=lambda state: seen.append(_blas_threads()),
        ).fit(X, y)
    assert seen and all(t == [2] * len(t) for t in seen)


def test_failing_fit_restores_blas_threads(two_workers):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int)

    def callback(state):
        raise RuntimeError("stop here")

    before = _blas_threads()
    est = BackpropClassifier(hidden_layer_sizes=(6,), max_iter=3, callback=callback)
    with pytest.raises(RuntimeError, match="stop here"):
        est.fit(X, y)
    assert _blas_threads() == before == [2] * len(before)
