"""The thread policy and the row workers: same results as one thread, the
user's BLAS setting restored whatever threads, overlaps and interrupts occur."""

import multiprocessing
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

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
    seed,
):
    X, Y = make_problem(loss, n_samples=301, n_features=SIZES[0], sparse=sparse)
    sizes = (SIZES[0], SIZES[1], Y.shape[1])
    theta = make_theta(X, sizes, activation)
    sw = np.random.default_rng(seed + 1).random(301) if weighted else None
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
    two_workers, monkeypatch, make_problem, make_theta, product, weighted, seed
):
    X, Y = make_problem("log_loss", n_samples=301, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    v = np.random.default_rng(seed + 2).normal(size=theta.shape)
    sw = np.random.default_rng(seed + 1).random(301) if weighted else None
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
def test_fit_holds_one_blas_thread_between_evaluations(two_workers, solver, seed):
    # Between evaluations an optimizer's own BLAS calls would wake BLAS's
    # threads to spin on the workers' cores: the fit keeps BLAS at one thread
    # throughout, and restores the user's setting afterwards.
    rng = np.random.default_rng(seed)
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


def test_plan_by_size(monkeypatch):
    monkeypatch.setattr(threads, "MIN_WORK_FOR_BLAS_THREADS", 10**6)
    monkeypatch.setattr(threads, "MIN_WORK_PER_WORKER", 2 * 10**7)
    work = 1000  # multiply-adds per row
    # One BLAS thread for small batches, BLAS's threads in between, row
    # workers on single-threaded BLAS for large ones; nothing on one thread.
    assert threads.plan(100, work, threads=2) == (1, 1)
    assert threads.plan(1000, work, threads=2) == (2, 1)
    # ...unless the optimizer's own BLAS calls would wake them in between.
    assert threads.plan(1000, work, threads=2, between=True) == (1, 1)
    assert threads.plan(50_000, work, threads=2) == (1, 2)
    assert threads.plan(50_000, work, threads=4) == (1, 2)  # 20,000 rows each
    assert threads.plan(200_000, work, threads=4) == (1, 4)
    assert threads.plan(50_000, work, threads=1) == (1, 1)


def test_small_fits_run_on_one_blas_thread(seed):
    # Waking BLAS's threads costs more than small products gain from them.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, 5))
    y = (X[:, 0] > 0).astype(int)
    seen = []
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        BackpropClassifier(
            hidden_layer_sizes=(6,),
            solver="gd",
            batch_size=200,
            max_iter=2,
            callback=lambda state: seen.append(_blas_threads()),
        ).fit(X, y)
        after = _blas_threads()
    assert seen and all(t == [1] * len(t) for t in seen)
    assert after == before == [2] * len(before)


def test_mid_size_fits_keep_the_users_blas_threads(monkeypatch, seed):
    monkeypatch.setattr(threads, "MIN_WORK_FOR_BLAS_THREADS", 0)
    rng = np.random.default_rng(seed)
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


def _fit_in_thread(est, X, y):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(est.fit, X, y).result()


@pytest.mark.parametrize("main_ends_first", [True, False])
def test_overlapping_fits_in_threads_restore_the_users_setting(
    two_workers, main_ends_first, seed
):
    # A fit in the main thread and one in a worker thread overlap, ending in
    # either order: the user's setting comes back when the last one ends.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int)
    started, finish = threading.Event(), threading.Event()

    def wait_for_main(state):
        started.set()
        finish.wait(10)

    def release_other(state):
        assert started.wait(10)
        if not main_ends_first:
            finish.set()
            time.sleep(0.05)

    before = _blas_threads()
    other = BackpropClassifier((6,), max_iter=3, callback=wait_for_main)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(other.fit, X, y)
        BackpropClassifier((6,), max_iter=3, callback=release_other).fit(X, y)
        finish.set()
        future.result()
    assert _blas_threads() == before == [2] * len(before)


def test_fit_in_a_pool_thread_leaves_threadpool_limits_working(two_workers, seed):
    # threadpoolctl lets only the thread that set a limit change it again:
    # a fit in a long-lived pool thread must not take that claim.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(BackpropClassifier((6,), max_iter=3).fit, X, y).result()
        with threadpool_limits(1, user_api="blas"):
            assert _blas_threads() == [1] * len(_blas_threads())
        assert _blas_threads() == [2] * len(_blas_threads())


@pytest.mark.parametrize("n_samples", [300, 3000])
def test_a_fit_in_another_thread_is_bit_identical(two_workers, n_samples, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    params = {"hidden_layer_sizes": (20,), "max_iter": 20, "random_state": seed}
    here = BackpropClassifier(**params).fit(X, y)
    there = _fit_in_thread(BackpropClassifier(**params), X, y)
    for a, b in zip(here.coefs_, there.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(here.intercepts_, there.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("when", ["before", "after"])
def test_ctrl_c_in_the_restore_still_restores(two_workers, monkeypatch, when, seed):
    # A KeyboardInterrupt landing just before (or just after) the user's
    # setting is written back: it still comes back, and the interrupt too.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int)
    state = threads._BLAS
    original_set = state._set
    fired = []

    def interrupted_set(counts):
        restoring = counts != [1] * len(counts)
        if restoring and not fired and when == "before":
            fired.append(True)
            raise KeyboardInterrupt
        original_set(counts)
        if restoring and not fired and when == "after":
            fired.append(True)
            raise KeyboardInterrupt

    monkeypatch.setattr(state, "_set", interrupted_set)
    before = _blas_threads()
    with pytest.raises(KeyboardInterrupt):
        BackpropClassifier((6,), max_iter=3).fit(X, y)
    assert fired
    assert _blas_threads() == before == [2] * len(before)
    assert state.limited() is None


def test_failing_fit_restores_blas_threads(two_workers, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] > 0).astype(int)

    def callback(state):
        raise RuntimeError("stop here")

    before = _blas_threads()
    est = BackpropClassifier(hidden_layer_sizes=(6,), max_iter=3, callback=callback)
    with pytest.raises(RuntimeError, match="stop here"):
        est.fit(X, y)
    assert _blas_threads() == before == [2] * len(before)
