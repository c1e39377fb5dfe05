"""The network: flat parameter layout, forward cascade, backward two-step rule.

Notation (one convention everywhere; seed 001's names in brackets)
------------------------------------------------------------------
Layer sizes ``(n_0, n_1, ..., n_L)``; weights ``W(l)`` of shape
``(n_{l-1}, n_l)`` [``Theta(l-1)'``] and biases ``b(l)`` of shape ``(n_l,)``
[the bias column of ``Theta``].  Over a batch ``X`` of ``m`` rows::

    A(0) = X,   Z(l) = A(l-1) W(l) + b(l),   A(l) = g(Z(l))        (forward)
    d(L) = A(L) - Y                                                 (output signal)
    d(l) = (d(l+1) W(l+1)') .* g'(Z(l))                             (hidden signal)
    Delta(l) = A(l-1)' (s .* d(l))                                  (accumulated)
    D(l) = (Delta(l) + alpha W(l)) / S,   Db(l) = sum_i s_i d_i(l) / S

with sample weights ``s`` (default 1), ``S = sum(s)`` and the cost::

    J = (1/S) sum_i s_i loss(A_i(L), Y_i) + alpha / (2 S) sum_l ||W(l)||^2

Biases are not regularized, as in seed 001.  The flat parameter vector holds
all ``W(l)`` (row-major) followed by all ``b(l)``, the layout of
scikit-learn's MLP, so the regularized part is one contiguous prefix.
"""

import contextlib
import numbers
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, DTypeLike, NDArray
from sklearn.utils import check_random_state
from threadpoolctl import ThreadpoolController

from skbackprop._activations import (
    HIDDEN_ACTIVATIONS,
    HIDDEN_DERIVATIVES,
    OUTPUT_ACTIVATIONS,
)
from skbackprop._losses import LOSSES

# Rows per chunk are chosen so that one activation buffer of the widest layer
# holds about this many elements: large enough for GEMM to run near its peak,
# small enough that two workers' buffers stay near the last-level cache.
# Measured (100-256-256-10, AMD EPYC, 1 BLAS thread): 2**19 beat 2**18, 2**20
# and 2**21 by 2-10% in float64 and float32.
_CHUNK_ELEMENTS = 2**19

# The gradient splits its rows between worker threads, one per BLAS thread,
# each running single-threaded BLAS on its own blocks: the element-wise steps
# then run in parallel too, and small products avoid BLAS's thread hand-offs.
# A worker gets at least this many rows and multiply-adds (about a millisecond
# of work, so that starting a thread costs under a tenth of it); smaller
# batches run in the calling thread with the user's BLAS setting.  Measured
# (100-256-256-10, 2 cores): batches of 200 rows ran 20% faster on 2-thread
# BLAS than on 2 workers; from about 1000 rows the workers were as fast or
# faster.
_MIN_ROWS_PER_WORKER = 512
_MIN_WORK_PER_WORKER = 2 * 10**7

# Layers with fewer columns than this take a contiguous copy of W(l)' for the
# hidden signals (see Network._block_params).
_NARROW = 64


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


def _default_chunk_size(widest):
    """Rows per block: about ``_CHUNK_ELEMENTS`` values of the widest layer."""
    return max(64, _CHUNK_ELEMENTS // widest)


def _check_layer_sizes(layer_sizes):
    sizes = tuple(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(
            "layer_sizes must hold at least the input and output sizes, "
            f"got {layer_sizes!r}."
        )
    for n in sizes:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(
                f"layer_sizes must be positive integers, got {layer_sizes!r}."
            )
    return tuple(int(n) for n in sizes)


def n_params(layer_sizes: Sequence[int]) -> int:
    """Number of parameters of a network with the given layer sizes.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.

    Returns
    -------
    n : int
        ``sum_l (n_{l-1} + 1) * n_l``: all weights and biases.

    Examples
    --------
    >>> from skbackprop import n_params
    >>> n_params((4, 3, 2))
    23
    """
    sizes = _check_layer_sizes(layer_sizes)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def unpack_params(
    theta: NDArray, layer_sizes: Sequence[int]
) -> tuple[list[NDArray], list[NDArray]]:
    """Per-layer views of a flat parameter vector.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters: every ``W(l)`` in row-major order, then every ``b(l)``.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.

    Returns
    -------
    coefs : list of ndarray
        ``coefs[l]`` has shape ``(layer_sizes[l], layer_sizes[l + 1])``.
    intercepts : list of ndarray
        ``intercepts[l]`` has shape ``(layer_sizes[l + 1],)``.

    Notes
    -----
    The arrays are views of ``theta`` whenever ``theta`` is contiguous: writing
    to them writes to ``theta``, and no data are copied.  The shapes are those
    of :class:`sklearn.neural_network.MLPClassifier`'s ``coefs_`` and
    ``intercepts_``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import unpack_params
    >>> coefs, intercepts = unpack_params(np.arange(23.0), (4, 3, 2))
    >>> [c.shape for c in coefs], [b.shape for b in intercepts]
    ([(4, 3), (3, 2)], [(3,), (2,)])
    """
    sizes = _check_layer_sizes(layer_sizes)
    theta = np.asarray(theta)
    expected = n_params(sizes)
    if theta.ndim != 1 or theta.shape[0] != expected:
        raise ValueError(
            f"theta must be a 1-D array of {expected} parameters for layer_sizes "
            f"{sizes}, got shape {theta.shape}."
        )
    coefs, intercepts, start = [], [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        coefs.append(theta[start : start + n_in * n_out].reshape(n_in, n_out))
        start += n_in * n_out
    for n_out in sizes[1:]:
        intercepts.append(theta[start : start + n_out])
        start += n_out
    return coefs, intercepts


def pack_params(
    coefs: Sequence[ArrayLike],
    intercepts: Sequence[ArrayLike],
    out: NDArray | None = None,
) -> NDArray:
    """Flatten per-layer weights and biases into one parameter vector.

    The inverse of :func:`unpack_params`.

    Parameters
    ----------
    coefs : list of array-like of shape (n_{l-1}, n_l)
        Weight matrices ``W(l)``, e.g. an MLP's ``coefs_``.
    intercepts : list of array-like of shape (n_l,)
        Bias vectors ``b(l)``, e.g. an MLP's ``intercepts_``.
    out : ndarray of shape (n_params,), default=None
        Where to write the result; allocated when None.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The flat parameter vector, in the dtype of the first weight matrix
        (or of ``out``).

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import pack_params, unpack_params
    >>> theta = np.arange(23.0)
    >>> np.array_equal(pack_params(*unpack_params(theta, (4, 3, 2))), theta)
    True
    """
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError(
            "coefs and intercepts must be non-empty lists of equal length."
        )
    sizes = [np.shape(coefs[0])[0]] + [np.shape(c)[1] for c in coefs]
    if out is None:
        out = np.empty(n_params(sizes), dtype=np.asarray(coefs[0]).dtype)
    out_coefs, out_intercepts = unpack_params(out, sizes)
    for dst, src in zip(
        out_coefs + out_intercepts, list(coefs) + list(intercepts), strict=True
    ):
        if np.shape(src) != dst.shape:
            raise ValueError(
                f"Inconsistent layer shapes: expected {dst.shape}, got {np.shape(src)}."
            )
        dst[...] = src
    return out


def init_params(
    layer_sizes: Sequence[int],
    activation: str = "relu",
    random_state: int | np.random.RandomState | None = None,
    dtype: DTypeLike = np.float64,
) -> NDArray:
    """Glorot-uniform initial parameters, exactly as scikit-learn's MLP draws them.

    Each layer draws ``W(l)`` and then ``b(l)`` from
    ``U(-r, r)`` with ``r = sqrt(f / (n_{l-1} + n_l))``, ``f = 2`` for the
    logistic activation and ``6`` otherwise, in float64 and then cast.  With
    the same integer ``random_state`` the result equals the initial
    ``coefs_``/``intercepts_`` of :class:`sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : str, default="relu"
        The hidden activation, which sets ``f``.
    random_state : int, RandomState instance or None, default=None
        Source of randomness.
    dtype : dtype, default=np.float64
        The dtype of the result.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        Flat initial parameters.

    Examples
    --------
    >>> from skbackprop import init_params
    >>> init_params((4, 3, 2), random_state=0).shape
    (23,)
    """
    sizes = _check_layer_sizes(layer_sizes)
    rng = check_random_state(random_state)
    factor = 2.0 if activation == "logistic" else 6.0
    theta = np.empty(n_params(sizes), dtype=dtype)
    coefs, intercepts = unpack_params(theta, sizes)
    for W, b in zip(coefs, intercepts, strict=True):
        bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
        W[...] = rng.uniform(-bound, bound, W.shape)
        b[...] = rng.uniform(-bound, bound, b.shape)
    return theta


def forward_layers(
    coefs, intercepts, X, activation, out_activation="identity", chunk_size=None
):
    """Forward cascade over per-layer weights, block by block.

    ``Z(l) = A(l-1) W(l) + b(l)``, ``A(l) = g(Z(l))`` for the hidden layers,
    and the output activation (None: none, returning the logits ``Z(L)``)
    for the last.  Allocates its own memory, so it is safe to call from
    several threads at once.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        ``W(l)`` and ``b(l)``, as returned by :func:`unpack_params`.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Input rows.
    activation : str
        Hidden activation.
    out_activation : str or None, default="identity"
        Output activation; None returns the logits.
    chunk_size : int, default=None
        Rows per block; bounds the memory of the hidden activations.

    Returns
    -------
    A : ndarray of shape (n_samples, n_outputs)
        ``A(L)`` (or ``Z(L)``), in the dtype of the products.
    """
    m = X.shape[0]
    if chunk_size is None:
        chunk_size = _default_chunk_size(max(len(b) for b in intercepts))
    dtype = np.result_type(X.dtype, coefs[0].dtype)
    out = np.empty((m, len(intercepts[-1])), dtype)
    L = len(coefs)
    for start in range(0, m, chunk_size):
        A = X[start : start + chunk_size]
        for l in range(L):
            Z = np.asarray(A @ coefs[l], dtype=dtype)
            Z += intercepts[l]
            if l < L - 1:
                A = HIDDEN_ACTIVATIONS[activation](Z)
            elif out_activation is not None:
                A = OUTPUT_ACTIVATIONS[out_activation](Z)
            else:
                A = Z
        out[start : start + chunk_size] = A
    return out


class Network:
    """A feed-forward network's structure, with reusable work buffers.

    The engine behind :func:`cost_grad`; the estimators build one per fit so
    that the work buffers are allocated once and reused by every evaluation.
    On large batches :meth:`cost_grad` splits the rows between one worker
    thread per BLAS thread, each with its own buffers and single-threaded
    BLAS while they run (the process-wide BLAS setting is restored after).
    One instance must not evaluate :meth:`cost_grad` from several threads at
    once; :meth:`forward` allocates its own memory and is thread-safe.  An
    estimator's fit holds :meth:`threads` for its whole duration.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden activation ``g``.
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}
        The loss, which fixes the output activation (softmax, logistic,
        identity, exp).
    dtype : {np.float64, np.float32}, default=np.float64
        The dtype every computation runs in.
    chunk_size : int or None, default=None
        Rows per block of the gradient accumulation; None picks about
        ``2**20 / widest_layer`` rows.
    """

    def __init__(
        self,
        layer_sizes,
        activation="relu",
        loss="log_loss",
        dtype=np.float64,
        chunk_size=None,
    ):
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        if activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(HIDDEN_ACTIVATIONS)}, "
                f"got {activation!r}."
            )
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}.")
        if chunk_size is not None and (
            not isinstance(chunk_size, numbers.Integral) or chunk_size < 1
        ):
            raise ValueError(
                f"chunk_size must be a positive integer, got {chunk_size!r}."
            )
        self.activation = activation
        self.loss = loss
        self.out_activation = LOSSES[loss].out_activation
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}.")
        self.chunk_size = chunk_size or _default_chunk_size(max(self.layer_sizes[1:]))
        # Where each W(l) and b(l) starts in theta: all weights, then all biases.
        sizes, L = self.layer_sizes, len(self.layer_sizes) - 1
        coef_sizes = [a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        offsets = np.cumsum([0, *coef_sizes, *sizes[1:]]).tolist()
        self.n_coefs, self.n_params = offsets[L], offsets[-1]
        # Multiply-adds per row of a gradient: forward, Delta, hidden signals.
        self.gradient_work = 3 * self.n_coefs
        self._coef_slices = [
            (offsets[l], offsets[l + 1], sizes[l : l + 2]) for l in range(L)
        ]
        self._intercept_slices = [
            (offsets[L + l], offsets[L + l + 1]) for l in range(L)
        ]

    # -- buffers --------------------------------------------------------------
    def _buffers(self, rows, worker=0):
        """One worker's buffers for blocks of ``rows`` rows, reused while large
        enough: activations, hidden signals, one block's gradient ``G`` and
        the worker's sum of them ``part``."""
        work = self.__dict__.setdefault("_work", [])
        while len(work) <= worker:
            G, part = np.empty((2, self.n_params), self.dtype)
            work.append({"rows": 0, "G": G, "part": part})
        w = work[worker]
        if rows > w["rows"]:
            dt = self.dtype
            w["A"] = [np.empty((rows, n), dt) for n in self.layer_sizes[1:]]
            w["delta"] = [np.empty((rows, n), dt) for n in self.layer_sizes[1:-1]]
            w["ones"] = np.ones(rows, dt)
            w["rows"] = rows
        return w

    def __getstate__(self):
        # Buffers are scratch space: never pickled.
        state = self.__dict__.copy()
        state.pop("_work", None)
        return state

    # -- parameters -----------------------------------------------------------
    def unpack(self, theta):
        """Per-layer views ``(coefs, intercepts)`` of ``theta``.

        As :func:`unpack_params`, from offsets computed once: it runs for
        every evaluation, and per mini-batch its checks cost more than the
        slicing.
        """
        theta = np.asarray(theta)
        if theta.shape != (self.n_params,):
            return unpack_params(theta, self.layer_sizes)  # raises the error
        coefs = [theta[a:b].reshape(shape) for a, b, shape in self._coef_slices]
        intercepts = [theta[a:b] for a, b in self._intercept_slices]
        return coefs, intercepts

    def _as_theta(self, theta):
        theta = np.asarray(theta)
        if theta.dtype != self.dtype:
            # SciPy's optimizers work in float64: one O(n_params) cast per call
            # keeps every O(m n_params) product in the network's own dtype.
            theta = theta.astype(self.dtype)
        return theta

    # -- forward --------------------------------------------------------------
    def forward(self, theta, X):
        """Output activations ``A(L)`` for ``X`` (see :func:`forward_layers`).

        Large ``X`` is split between row workers (see :meth:`map_rows`).
        """
        coefs, intercepts = self.unpack(self._as_theta(theta))

        def part(k, start, stop):
            return forward_layers(
                coefs,
                intercepts,
                X[start:stop],
                self.activation,
                self.out_activation,
                self.chunk_size,
            )

        parts = self.map_rows(part, X.shape[0], self.n_coefs)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    # -- row workers ----------------------------------------------------------
    def _n_workers(self, m, work_per_row):
        """Row workers for ``m`` rows of ``work_per_row`` multiply-adds each."""
        min_rows = max(_MIN_ROWS_PER_WORKER, -(-_MIN_WORK_PER_WORKER // work_per_row))
        if m < 2 * min_rows:  # too few for two: skip asking BLAS (per mini-batch)
            return 1
        return max(1, min(_BLAS_THREADS.available(), m // min_rows))

    @contextlib.contextmanager
    def threads(self, rows):
        """Single-threaded BLAS for the whole of a fit whose evaluations see
        ``rows`` rows, when they are split between row workers.

        Between evaluations an optimizer's own BLAS calls (even one dot
        product) wake OpenBLAS's threads, which then spin for about 0.1 s on
        the cores the row workers need: holding one BLAS thread for the whole
        fit keeps the cores free for them (measured: L-BFGS-B fits 15-20%
        faster).  Otherwise the user's BLAS setting stays.
        """
        if self._n_workers(rows, self.gradient_work) > 1:
            with _BLAS_THREADS.single():
                yield
        else:
            yield

    def map_rows(self, fn, m, work_per_row):
        """``[fn(k, start, stop), ...]`` over ``n`` equal row ranges, concurrently.

        ``n`` is one per BLAS thread when each range holds at least
        ``_MIN_ROWS_PER_WORKER`` rows and ``_MIN_WORK_PER_WORKER``
        multiply-adds, else 1 (then ``fn(0, 0, m)`` runs in the calling thread
        with the user's BLAS setting).  Workers run single-threaded BLAS and
        the caller's floating-point error state; the results come back in
        range order, so sums over them do not depend on the threads' timing.
        """
        n = self._n_workers(m, work_per_row)
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

    # -- cost and gradient ----------------------------------------------------
    def cost_grad(self, theta, X, Y, sample_weight=None, alpha=0.0, out=None):
        """Cost ``J`` and flat regularized batch gradient ``D``.

        See :func:`cost_grad` for the parameters.  ``X`` must be dense or
        CSR, ``Y`` 2-D, both in this network's dtype; ``out`` (if given)
        receives ``D``.
        """
        theta = self._as_theta(theta)
        m = X.shape[0]
        if m == 0:
            raise ValueError("Cannot compute the cost of an empty batch (0 rows).")
        S = float(m) if sample_weight is None else float(np.sum(sample_weight))
        if not S > 0:
            raise ValueError(f"The sample weights must have a positive sum, got {S!r}.")
        D = np.empty(self.n_params, self.dtype) if out is None else out
        params = self._block_params(theta)

        def accumulate(k, start, stop):
            # Worker k sums its blocks into its own accumulator (D for k=0).
            sw = None if sample_weight is None else sample_weight[start:stop]
            G = D if k == 0 else self._buffers(0, k)["part"]
            J = self._accumulate(
                params,
                X[start:stop],
                Y[start:stop],
                sw,
                G,
                worker=k,
            )
            return J, G

        # Far from a minimum (a line search's trial step, a too-large learning
        # rate) the cost can overflow: J is then inf or nan, which the solvers
        # handle and the estimators report; numpy's warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            parts = self.map_rows(accumulate, m, self.gradient_work)
            J = parts[0][0]
            for J_k, G in parts[1:]:
                J += J_k
                D += G
            # D(l) = (Delta(l) + alpha W(l)) / S; biases (after n_coefs) are
            # not regularized.  einsum, not np.dot: a BLAS call here would wake
            # BLAS's threads, which then spin on the cores the workers need.
            W = theta[: self.n_coefs]
            if alpha:
                J += 0.5 * alpha * float(np.einsum("i,i->", W, W))
                D[: self.n_coefs] += alpha * W
            D *= self.dtype.type(1.0 / S)
        return J / S, D

    def _block_params(self, theta):
        """``(coefs, coefs_T, intercepts)``: ``W(l)``, ``W(l)'``, ``b(l)``.

        ``W(l)'`` serves the hidden signals ``d(l) W(l)'``.  Through a narrow
        layer (few columns, e.g. the output's classes) BLAS runs that product
        1.2-1.6x faster with a contiguous copy than with the transposed view;
        through a wide one the view is as fast and costs no copy.
        """
        coefs, intercepts = self.unpack(theta)
        coefs_T = [
            np.ascontiguousarray(W.T) if W.shape[1] < _NARROW else W.T for W in coefs
        ]
        return coefs, coefs_T, intercepts

    def _accumulate(self, params, X, Y, sample_weight, D, worker=0):
        """Loss sum and ``Delta`` over all rows, block by block, into ``D``.

        ``params`` comes from :meth:`_block_params`.
        """
        m = X.shape[0]
        # Equal blocks of at most chunk_size rows.
        n_blocks = -(-m // self.chunk_size)
        chunk = -(-m // n_blocks)
        buffers = self._buffers(chunk, worker)
        J = 0.0
        for start in range(0, m, chunk):
            stop = min(start + chunk, m)
            # Seed 001 accumulates Delta example by example; we accumulate it
            # block by block: the first block writes D, later ones add to it.
            G = D if start == 0 else buffers["G"]
            sw = None if sample_weight is None else sample_weight[start:stop]
            J += self._block(params, X[start:stop], Y[start:stop], sw, G, buffers)
            if start:
                D += G
        return J

    def _block(self, params, X, Y, sw, G, buffers):
        """Forward and backward over one block of rows; returns its loss sum.

        Writes ``Delta(l)`` and the bias sums of the block into ``G``.
        """
        coefs, coefs_T, intercepts = params
        rows = X.shape[0]
        A_bufs, delta_bufs = buffers["A"], buffers["delta"]
        ones = buffers["ones"][:rows]
        G_coefs, G_intercepts = self.unpack(G)
        acts = [X] + [a[:rows] for a in A_bufs]
        L = len(coefs)
        sparse_input = sp.issparse(X)

        # Forward cascade: Z(l) = A(l-1) W(l) + b(l), A(l) = g(Z(l)).
        for l in range(L):
            Z = acts[l + 1]
            if l == 0 and sparse_input:
                np.copyto(Z, X @ coefs[0])
            else:
                np.matmul(acts[l], coefs[l], out=Z)
            Z += intercepts[l]
            if l < L - 1:
                HIDDEN_ACTIVATIONS[self.activation](Z)

        # Loss from the logits Z(L); Z(L) becomes the output signal A(L) - Y.
        delta = acts[L]
        row_loss = LOSSES[self.loss].loss_signal(delta, Y)
        J = float(row_loss.sum() if sw is None else np.dot(sw, row_loss))
        if sw is not None:
            delta *= sw[:, None]

        # Backward two-step rule, from the output layer down.
        derivative = HIDDEN_DERIVATIVES[self.activation]
        for l in range(L - 1, -1, -1):
            A_prev = acts[l]
            if l == 0 and sparse_input:
                np.copyto(G_coefs[0], A_prev.T @ delta)
            else:
                np.matmul(A_prev.T, delta, out=G_coefs[l])  # Delta(l)
            # Bias sums as a matrix-vector product: faster than np.sum.
            np.matmul(ones, delta, out=G_intercepts[l])
            if l > 0:
                # d(l-1) = (d(l) W(l)') .* g'(Z(l-1)); A_prev is not needed after.
                new = delta_bufs[l - 1][:rows]
                np.matmul(delta, coefs_T[l], out=new)
                delta = derivative(A_prev, new)
        return J


def _prepare(X, Y, sample_weight, dtype=None):
    """Dense/CSR ``X``, 2-D ``Y`` and 1-D weights in one floating dtype."""
    if sp.issparse(X):
        X = X.tocsr()
        if dtype is None:
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = X.astype(dtype, copy=False)
    else:
        X = np.asarray(X)
        if dtype is None:
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = np.asarray(X, dtype=dtype)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got {X.ndim} dimension(s).")
    Y = np.asarray(Y, dtype=dtype)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and Y have different numbers of rows: {X.shape[0]} and {Y.shape[0]}."
        )
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=dtype)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must have shape ({X.shape[0]},), "
                f"got {sample_weight.shape}."
            )
    return X, Y, sample_weight, dtype


def _network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size):
    net = Network(layer_sizes, activation, loss, dtype=dtype, chunk_size=chunk_size)
    if net.layer_sizes[0] != X.shape[1] or net.layer_sizes[-1] != Y.shape[1]:
        raise ValueError(
            f"layer_sizes {net.layer_sizes} do not match X with {X.shape[1]} "
            f"features and Y with {Y.shape[1]} outputs."
        )
    return net


def cost_grad(
    theta: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str = "relu",
    loss: str = "log_loss",
    alpha: float = 0.0,
    sample_weight: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> tuple[float, NDArray]:
    """Cost ``J`` and regularized batch gradient ``D`` of a feed-forward network.

    The batch form of seed 001's algorithm, by the layer-by-layer matrix
    rule of seed 000: a forward cascade ``Z(l) = A(l-1) W(l) + b(l)``,
    ``A(l) = g(Z(l))``; the output signal ``d(L) = A(L) - Y``; the hidden
    signals ``d(l) = (d(l+1) W(l+1)') * g'(Z(l))``; the accumulated
    ``Delta(l) = A(l-1)' (s * d(l))``; and
    ``D(l) = (Delta(l) + alpha W(l)) / S`` with unregularized biases, where
    ``s`` are the sample weights and ``S`` their sum.  The cost is::

        J = (1/S) sum_i s_i loss(A_i(L), Y_i) + alpha / (2 S) sum_l ||W(l)||^2

    The signature fits :func:`scipy.optimize.minimize` with ``jac=True``:
    ``minimize(cost_grad, theta0, args=(X, Y, layer_sizes, ...), jac=True)``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters, laid out as by :func:`pack_params`.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows.  float32 data are computed in float32.
    Y : array-like of shape (n_samples, n_outputs) or (n_samples,)
        Targets in the output's encoding: one-hot rows for ``"log_loss"``,
        0/1 indicators for ``"binary_log_loss"``, values for the
        regression losses (non-negative for ``"poisson"``).
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden activation.
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, paired with the output activation softmax, logistic, identity
        or exp respectively.
    alpha : float, default=0.0
        L2 penalty on the weights (seed 001's ``lambda``).
    sample_weight : array-like of shape (n_samples,), default=None
        Weights ``s`` of the rows; their sum must be positive.
    chunk_size : int, default=None
        Rows per block of the accumulation, which bounds the extra memory to
        ``O(chunk_size * widest layer)``.  None picks a cache-friendly size.

    Returns
    -------
    J : float
        The regularized cost.
    D : ndarray of shape (n_params,)
        Its gradient, laid out as ``theta``, in the dtype of ``X``.

    See Also
    --------
    check_gradient : Compare ``D`` with central finite differences.
    hessian_vector_product : Exact Hessian-vector products of ``J``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> from skbackprop import cost_grad, init_params
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3))
    >>> Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    >>> sizes = (3, 5, 2)
    >>> theta0 = init_params(sizes, random_state=0)
    >>> res = minimize(cost_grad, theta0, args=(X, Y, sizes, "tanh", "log_loss", 1e-3),
    ...                jac=True, method="L-BFGS-B")
    >>> bool(res.fun < cost_grad(theta0, X, Y, sizes, "tanh", "log_loss", 1e-3)[0])
    True
    """
    X, Y, sample_weight, dtype = _prepare(X, Y, sample_weight)
    net = _network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size)
    return net.cost_grad(theta, X, Y, sample_weight, alpha)


def predict_network(
    theta: ArrayLike,
    X: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str = "relu",
    loss: str = "log_loss",
) -> NDArray:
    """Output activations ``A(L)`` of a network with flat parameters ``theta``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden activation.
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        The loss, which fixes the output activation.

    Returns
    -------
    A : ndarray of shape (n_samples, n_outputs)
        The network's output.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import init_params, predict_network
    >>> theta = init_params((3, 4, 2), random_state=0)
    >>> P = predict_network(theta, np.ones((5, 3)), (3, 4, 2))
    >>> np.allclose(P.sum(axis=1), 1.0)
    True
    """
    rows, _, _, dtype = _prepare(X, np.zeros((np.shape(X)[0], 1)), None)
    net = Network(layer_sizes, activation, loss, dtype=dtype)
    if net.layer_sizes[0] != rows.shape[1]:
        raise ValueError(
            f"X has {rows.shape[1]} features, but layer_sizes expects "
            f"{net.layer_sizes[0]}."
        )
    return net.forward(theta, rows)
