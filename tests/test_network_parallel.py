"""The gradient's row workers: same result as one thread, BLAS setting restored."""

import multiprocessing
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import skbackprop._network as network
from skbackprop import cost_grad

SIZES = (4, 6, 5)


def _blas_threads():
    info = threadpool_info()
    return [lib["num_threads"] for lib in info if lib["user_api"] == "blas"]


@pytest.fixture
def two_workers(monkeypatch):
    """Row workers from 50 rows on, and two BLAS threads to split between."""
    monkeypatch.setattr(network, "_MIN_ROWS_PER_WORKER", 50)
    monkeypatch.setattr(network, "_MIN_WORK_PER_WORKER", 0)
    with threadpool_limits(2, user_api="blas"):
        yield


def _serial(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as mp:
        mp.setattr(network, "_MIN_ROWS_PER_WORKER", 10**9)
        return cost_grad(*args, **kwargs)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_workers_equal_one_thread(
    two_workers, monkeypatch, make_problem, make_theta, loss, weighted, sparse
):
    X, Y = make_problem(loss, n_samples=301, n_features=SIZES[0], sparse=sparse)
    sizes = (SIZES[0], SIZES[1], Y.shape[1])
    theta = make_theta(X, sizes, "tanh")
    sw = np.random.default_rng(1).random(301) if weighted else None
    args = (theta, X, Y, sizes, "tanh", loss, 0.3, sw)
    calls = []
    original = network.Network._accumulate

    def spy(self, *a, **k):
        calls.append(k.get("worker", 0))
        return original(self, *a, **k)

    monkeypatch.setattr(network.Network, "_accumulate", spy)
    J, D = cost_grad(*args, chunk_size=40)
    assert sorted(calls) == [0, 1]  # both workers ran
    J_ref, D_ref = _serial(monkeypatch, *args, chunk_size=40)
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
    original = network.Network._accumulate

    def fail_in_worker_1(self, *a, worker=0, **k):
        if worker == 1:
            raise MemoryError("worker 1")
        return original(self, *a, worker=worker, **k)

    monkeypatch.setattr(network.Network, "_accumulate", fail_in_worker_1)
    before = _blas_threads()
    with pytest.raises(MemoryError, match="worker 1"):
        cost_grad(theta, X, Y, (SIZES[0], SIZES[1], 3))
    assert _blas_threads() == before


def test_overflow_without_warnings_in_workers(two_workers, make_problem):
    # np.errstate does not carry over to new threads: each worker sets its own.
    X, Y = make_problem("log_loss", n_samples=200, n_features=SIZES[0])
    sizes = (SIZES[0], SIZES[1], 3)
    theta = np.full(network.n_params(sizes), 1e300)
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
        calls = []
        original = network.Network._accumulate

        def spy(self, *a, **k):
            calls.append(k.get("worker", 0))
            return original(self, *a, **k)

        monkeypatch.setattr(network.Network, "_accumulate", spy)
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
