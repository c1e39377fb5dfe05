"""BLAS threads and the row workers that split a batch between them.

A batch's rows can be split between worker threads, one per BLAS thread,
each running single-threaded BLAS on its own rows: the element-wise steps
then run in parallel too, and small products avoid BLAS's thread hand-offs.
:func:`map_rows` is that split; :func:`fit_threads` holds single-threaded
BLAS for the whole of a fit whose evaluations split.
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from threadpoolctl import ThreadpoolController

# A worker gets at least this many rows and multiply-adds (about a millisecond
# of work, so that starting a thread costs under a tenth of it); smaller
# batches run in the calling thread with the user's BLAS setting.  Measured
# (100-256-256-10, 2 cores): batches of 200 rows ran 20% faster on 2-thread
# BLAS than on 2 workers; from about 1000 rows the workers were as fast or
# faster.
MIN_ROWS_PER_WORKER = 512
MIN_WORK_PER_WORKER = 2 * 10**7


class _BlasThreads:
    """Process-wide switch of BLAS to one thread while row workers run.

    Counted, so that overlapping gradient evaluations (fits in several
    threads) restore the user's setting only when the last one ends.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limiter = None
        self._blas = None
        self._threads = 1

    def available(self):
        """BLAS threads configured outside of this switch."""
        with self._lock:
            if self._users:
                return self._threads
            if self._blas is None:
                self._blas = ThreadpoolController().select(user_api="blas")
            counts = [c.get_num_threads() for c in self._blas.lib_controllers]
            return max(counts, default=1)

    @contextlib.contextmanager
    def single(self):
        with self._lock:
            if not self._users:
                self._threads = max(
                    (c.get_num_threads() for c in self._blas.lib_controllers),
                    default=1,
                )
                self._limiter = self._blas.limit(limits=1)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if not self._users:
                    self._limiter.restore_original_limits()
                    self._limiter = None


_BLAS_THREADS = _BlasThreads()


class _HelperThreads:
    """A process-wide pool of helper threads for the row workers.

    Kept alive between evaluations (starting threads for every mini-batch
    costs more than a pool's hand-off) and made anew in a forked child,
    which inherits the pool but not its threads.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pool, self._size, self._pid = None, 0, None

    def submit(self, fn, args):
        """Futures of ``fn(a)`` for each ``a`` in ``args``, run concurrently."""
        with self._lock:
            if self._pid != os.getpid() or self._size < len(args):
                self._size = max(len(args), 1)
                self._pool = ThreadPoolExecutor(
                    self._size, thread_name_prefix="skbackprop-rows"
                )
                self._pid = os.getpid()
            pool = self._pool
        return [pool.submit(fn, a) for a in args]


_HELPERS = _HelperThreads()


def n_workers(m, work_per_row):
    """Row workers for ``m`` rows of ``work_per_row`` multiply-adds each."""
    min_rows = max(MIN_ROWS_PER_WORKER, -(-MIN_WORK_PER_WORKER // work_per_row))
    if m < 2 * min_rows:  # too few for two: skip asking BLAS (per mini-batch)
        return 1
    return max(1, min(_BLAS_THREADS.available(), m // min_rows))


@contextlib.contextmanager
def fit_threads(rows, work_per_row):
    """Single-threaded BLAS for the whole of a fit whose evaluations see
    ``rows`` rows of ``work_per_row`` multiply-adds, when they split between
    row workers.

    Between evaluations an optimizer's own BLAS calls (even one dot
    product) wake OpenBLAS's threads, which then spin for about 0.1 s on
    the cores the row workers need: holding one BLAS thread for the whole
    fit keeps the cores free for them (measured: L-BFGS-B fits 15-20%
    faster).  Otherwise the user's BLAS setting stays.
    """
    if n_workers(rows, work_per_row) > 1:
        with _BLAS_THREADS.single():
            yield
    else:
        yield


def single_blas():
    """Single-threaded BLAS until the context ends, whatever the fit's size.

    For solvers whose own LAPACK calls on small matrices (a Cholesky or SVD
    of ``n_params`` columns) lose more to BLAS's thread hand-offs than they
    gain; the row workers still split over the configured BLAS threads.
    """
    _BLAS_THREADS.available()  # finds the BLAS libraries on first use
    return _BLAS_THREADS.single()


def map_rows(fn, m, work_per_row):
    """``[fn(k, start, stop), ...]`` over ``n`` equal row ranges, concurrently.

    ``n`` is one per BLAS thread when each range holds at least
    ``MIN_ROWS_PER_WORKER`` rows and ``MIN_WORK_PER_WORKER`` multiply-adds,
    else 1 (then ``fn(0, 0, m)`` runs in the calling thread with the user's
    BLAS setting).  Workers run single-threaded BLAS and the caller's
    floating-point error state; the results come back in range order, so
    sums over them do not depend on the threads' timing.
    """
    n = n_workers(m, work_per_row)
    if n == 1:
        return [fn(0, 0, m)]
    bounds = [m * k // n for k in range(n + 1)]
    errstate = np.geterr()

    def work(k):
        # np.errstate is per thread: each worker takes the caller's.
        with np.errstate(**errstate):
            return fn(k, bounds[k], bounds[k + 1])

    with _BLAS_THREADS.single():
        helpers = _HELPERS.submit(work, range(1, n))
        try:
            first = work(0)
        finally:  # no helper may still write to the buffers on return
            wait(helpers)
    # Errors in the helpers are raised here, in the calling thread.
    return [first] + [h.result() for h in helpers]
