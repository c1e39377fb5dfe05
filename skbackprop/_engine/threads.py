"""BLAS threads and the row workers that split a batch between them.

Two ways to use several cores on one evaluation: multi-threaded BLAS, or
row workers (one Python thread per BLAS thread, each running
single-threaded BLAS on its own rows, so that the element-wise steps run in
parallel too).  And one way to use one core: single-threaded BLAS, which on
small problems beats both, because waking BLAS's threads costs more than
the arithmetic (measured: see :func:`plan`).

* :func:`plan` chooses, from a fit's size, the BLAS threads and row workers
  of its evaluations; :func:`hold` keeps that setting for the whole fit
  (the optimizer's own BLAS calls between evaluations included).
* :func:`map_rows` splits one evaluation's rows between the row workers.

Every change to BLAS's thread count goes through :class:`_BlasState`: it
is undone when the last fit that needed it ends, whichever thread that fit
ran in, so the user's setting comes back exactly, concurrent fits share one
change, and :mod:`threadpoolctl`'s own limits keep working afterwards.
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import NamedTuple

import numpy as np
from threadpoolctl import ThreadpoolController

# A row worker gets at least this many rows and multiply-adds (a few
# milliseconds of work, so that handing it to a thread costs little).
# Measured, L-BFGS-B fits on 2 cores (benchmarks/results/threads.md): 2
# workers of 5,000 rows x 1,440 multiply-adds (7e6) were 18% faster than
# one thread; of 1,000 rows (1.4e6), 15% slower; of 250 rows x 2.2e5
# (5.5e7), 3-15% faster.
MIN_ROWS_PER_WORKER = 128
MIN_WORK_PER_WORKER = 5 * 10**6

# Below this many multiply-adds per evaluation, one BLAS thread beats
# several.  BLAS's threads never pay in a fit whose optimizer makes BLAS
# calls of its own between evaluations (L-BFGS-B 1.2-3.5x slower than one
# thread: each of its small calls wakes them); they won only in gradient
# descent on mini-batches of wide networks, too few rows to split: 200 rows
# of 100-256-256-10 (5.6e7 multiply-adds), 20% faster than one thread.
MIN_WORK_FOR_BLAS_THREADS = 3 * 10**7


class Plan(NamedTuple):
    """How a fit's evaluations use the cores: BLAS threads and row workers."""

    blas_threads: int
    workers: int


class _BlasState:
    """BLAS's thread count: the user's setting, and the fits that change it.

    A fit may hold BLAS at a limit (:meth:`holding`); holders in several
    threads share one limit, set when the first arrives and undone when the
    last leaves, whichever threads those are.  The limit is set through
    each library's own setter, not :mod:`threadpoolctl`'s limiter: that one
    lets only the thread that first set a limit change it again, and keeps
    that claim for the life of the thread unless set inside its context
    manager (a fit in a pool thread would then disable the user's later
    ``threadpool_limits`` in the main thread).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = set()
        self._next = 0
        self._controllers = None
        self._original = None  # each library's setting while a limit holds
        self._limit = None  # the limit in force, or None

    def _libraries(self):
        if self._controllers is None:
            blas = ThreadpoolController().select(user_api="blas")
            self._controllers = list(blas.lib_controllers)
        return self._controllers

    def _counts(self):
        return [c.get_num_threads() or 1 for c in self._libraries()]

    def _set(self, counts):
        for controller, n in zip(self._libraries(), counts, strict=True):
            # OpenBLAS's process-wide setter, without threadpoolctl's claim
            # of the calling thread (threadpoolctl 3.8); plain setter before.
            setter = getattr(controller, "_real_set_num_threads", None)
            (setter or controller.set_num_threads)(n)

    def user_threads(self):
        """BLAS threads of the user's setting (outside any hold)."""
        with self._lock:
            counts = self._original if self._limit is not None else self._counts()
        return max(counts, default=1)

    def limited(self):
        """The limit in force, or None."""
        return self._limit

    def acquire(self, limit):
        """Hold BLAS at ``limit`` threads; returns a token for :meth:`release`.

        While another holder keeps a limit in force, the new holder shares it
        (fits that overlap in threads agree on one limit: their row workers
        need it).
        """
        with self._lock:
            token = self._next
            self._next += 1
            if self._limit is None:
                self._original = self._counts()
                self._set([limit] * len(self._original))
                self._limit = limit
            self._holders.add(token)
        return token

    def release(self, token):
        """End the hold ``token``; the last holder restores the user's setting.

        Safe to call again after an interruption: the restore happens before
        the token is dropped, so a repeated call finishes whatever one
        stopped at any point left undone.
        """
        with self._lock:
            if token not in self._holders:
                return
            if len(self._holders) == 1:
                self._set(self._original)
                self._limit = None
            self._holders.discard(token)

    @contextlib.contextmanager
    def holding(self, limit):
        token = self.acquire(limit)
        try:
            yield
        finally:
            # A Ctrl-C landing inside the release must not leave BLAS
            # limited for good: finish the release, then let it through.
            interrupted = None
            while True:
                try:
                    self.release(token)
                    break
                except KeyboardInterrupt as exc:
                    interrupted = exc
            if interrupted is not None:
                raise interrupted


_BLAS = _BlasState()


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


def _min_rows(work_per_row):
    """The fewest rows worth a worker of their own."""
    return max(MIN_ROWS_PER_WORKER, -(-MIN_WORK_PER_WORKER // work_per_row))


def _workers(m, work_per_row, threads):
    """Row workers for ``m`` rows of ``work_per_row`` multiply-adds each."""
    return max(1, min(threads, m // _min_rows(work_per_row)))


def plan(m, work_per_row, threads=None, between=False):
    """The cores' use for evaluations of ``m`` rows.

    ``threads`` is the user's BLAS thread count (None: read it);
    ``between`` says the optimizer makes BLAS calls of its own between
    evaluations (SciPy's methods do; gradient descent does not).  Large
    batches split between row workers on single-threaded BLAS; the others
    run on one BLAS thread, except batches of over
    ``MIN_WORK_FOR_BLAS_THREADS`` multiply-adds between which no optimizer
    wakes BLAS (mini-batches of a wide network), which take BLAS's threads.
    """
    if threads is None:
        threads = _BLAS.user_threads()
    if threads <= 1:
        return Plan(1, 1)
    workers = _workers(m, work_per_row, threads)
    if workers > 1:
        return Plan(1, workers)
    if between or m * work_per_row < MIN_WORK_FOR_BLAS_THREADS:
        return Plan(1, 1)
    return Plan(threads, 1)


@contextlib.contextmanager
def hold(m, work_per_row, between=False):
    """Hold the BLAS setting of :func:`plan` for a fit's whole duration.

    Between evaluations an optimizer's own BLAS calls (even one dot
    product) wake OpenBLAS's threads, which then spin for about 0.1 s on
    the cores the next evaluation needs: the setting holds for the whole
    fit, not per evaluation.  The user's setting is restored on exit,
    whatever ends the fit.
    """
    chosen = plan(m, work_per_row, between=between)
    if chosen.blas_threads == _BLAS.user_threads():
        yield chosen
    else:
        with _BLAS.holding(chosen.blas_threads):
            yield chosen


def single_blas():
    """Single-threaded BLAS until the context ends, whatever the fit's size.

    For solvers whose own LAPACK calls on small matrices (a Cholesky or SVD
    of ``n_params`` columns) lose more to BLAS's thread hand-offs than they
    gain; the row workers still split over the configured BLAS threads.
    """
    return _BLAS.holding(1)


def map_rows(fn, m, work_per_row):
    """``[fn(k, start, stop), ...]`` over ``n`` equal row ranges, concurrently.

    ``n`` is :func:`plan`'s number of row workers; with one, ``fn(0, 0, m)``
    runs in the calling thread.  Workers run on single-threaded BLAS (held
    here if no fit holds it already) and the caller's floating-point error
    state; the results come back in range order, so sums over them do not
    depend on the threads' timing.
    """
    if m < 2 * _min_rows(work_per_row):  # too few to split: no need to ask BLAS
        return [fn(0, 0, m)]
    limit = _BLAS.limited()
    threads = _BLAS.user_threads()
    n = 1 if (limit is not None and limit != 1) else plan(m, work_per_row, threads)[1]
    if n == 1:
        return [fn(0, 0, m)]
    bounds = [m * k // n for k in range(n + 1)]
    errstate = np.geterr()

    def work(k):
        # np.errstate is per thread: each worker takes the caller's.
        with np.errstate(**errstate):
            return fn(k, bounds[k], bounds[k + 1])

    with _BLAS.holding(1):
        helpers = _HELPERS.submit(work, range(1, n))
        try:
            first = work(0)
        finally:  # no helper may still write to the buffers on return
            wait(helpers)
    # Errors in the helpers are raised here, in the calling thread.
    return [first] + [h.result() for h in helpers]
