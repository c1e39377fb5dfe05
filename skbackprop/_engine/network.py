"""The network: forward cascade, backward two-step rule, cost and gradient.

Notation (one convention everywhere)
------------------------------------
Layer sizes ``(n_0, n_1, ..., n_L)``; weights ``W(l)`` of shape
``(n_{l-1}, n_l)`` and biases ``b(l)`` of shape ``(n_l,)`` (in the
``Theta(l)`` notation of Rumelhart, Hinton & Williams' backpropagation,
``W(l) = Theta(l-1)'`` and ``b(l)`` is the bias column).  Over a batch ``X``
of ``m`` rows::

    A(0) = X,   Z(l) = A(l-1) W(l) + b(l),   A(l) = g(Z(l))        (forward)
    d(L) = A(L) - Y                                                 (output signal)
    d(l) = (d(l+1) W(l+1)') .* g'(Z(l))                             (hidden signal)
    Delta(l) = A(l-1)' (s .* d(l))                                  (accumulated)
    D(l) = (Delta(l) + alpha W(l)) / S,   Db(l) = sum_i s_i d_i(l) / S

with sample weights ``s`` (default 1), ``S = sum(s)`` and the cost::

    J = (1/S) sum_i s_i loss(A_i(L), Y_i) + alpha / (2 S) sum_l ||W(l)||^2

Biases are not regularized.  ``alpha`` is a float, or one precision per
weight (an array of ``n_coefs``: the groups of ``alpha="ard"``), in which
case ``alpha W(l)`` and ``alpha ||W(l)||^2`` are taken entry by entry.  The
rows are processed in blocks of at most ``chunk_size`` rows, so the memory
beyond the data does not grow with ``m``.
"""

import numbers

import numpy as np
import scipy.sparse as sp

from skbackprop._engine import threads
from skbackprop._engine.activations import (
    HIDDEN_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    check_activations,
)
from skbackprop._engine.losses import get_loss
from skbackprop._engine.params import Layout

# Rows per chunk are chosen so that one activation buffer of the widest layer
# holds about this many elements: large enough for GEMM to run near its peak,
# small enough that two workers' buffers stay near the last-level cache.
# Measured (100-256-256-10, AMD EPYC, 1 BLAS thread): 2**19 beat 2**18, 2**20
# and 2**21 by 2-10% in float64 and float32.
_CHUNK_ELEMENTS = 2**19

# Test-only: rows per block for networks built with ``chunk_size=None``, in
# place of the size above.  The test suite's perturbed-rounding pass sets a
# few rows here (tests/conftest.py) so that every sum over rows runs in
# another order; None, the package's value, keeps the size above.
DEFAULT_CHUNK_SIZE = None

# Layers with fewer columns than this take a contiguous copy of W(l)' for the
# hidden signals (see Network.params).
_NARROW = 64


def penalized(alpha):
    """Whether ``alpha`` (a float or one precision per weight) penalizes."""
    return bool(np.any(alpha)) if np.ndim(alpha) else bool(alpha)


def penalty(alpha, W):
    """``1/2 sum_j alpha_j W_j^2`` for a float ``alpha`` or one per weight.

    einsum, not np.dot: a BLAS call here would wake BLAS's threads, which
    then spin on the cores the row workers need.
    """
    if np.ndim(alpha):
        return 0.5 * float(np.einsum("i,i,i->", alpha, W, W))
    return 0.5 * alpha * float(np.einsum("i,i->", W, W))


def weight_sum(m, sample_weight, what):
    """``S``, the sum of the weights of ``m`` rows, checked positive.

    ``what`` names the quantity an empty batch has none of.
    """
    if m == 0:
        raise ValueError(f"Cannot compute the {what} of an empty batch (0 rows).")
    S = float(m) if sample_weight is None else float(np.sum(sample_weight))
    if not S > 0:
        raise ValueError(f"The sample weights must have a positive sum, got {S!r}.")
    return S


class Network(Layout):
    """A feed-forward network's structure, with reusable work buffers.

    The engine behind :func:`~skbackprop.cost_grad`; the estimators build one
    per fit so that the work buffers are allocated once and reused by every
    evaluation.  On large batches :meth:`cost_grad` splits the rows between
    worker threads (:func:`~skbackprop._engine.threads.map_rows`), each with
    its own buffers.  One instance must not evaluate :meth:`cost_grad` from
    several threads at once; :meth:`forward` allocates its own memory and is
    thread-safe.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : str or sequence of str, default="relu"
        Hidden activation ``g``, a key of :data:`HIDDEN_ACTIVATIONS`, or one
        per hidden layer.
    loss : str or Loss
        The loss (a registered name or a
        :class:`~skbackprop._engine.losses.Loss`), which fixes the output
        activation.
    dtype : {np.float64, np.float32}, default=np.float64
        The dtype every computation runs in.
    chunk_size : int or None, default=None
        Rows per block; None picks about ``2**19 / widest_layer`` rows (at
        least 64).
    """

    def __init__(
        self,
        layer_sizes,
        activation="relu",
        loss="log_loss",
        dtype=np.float64,
        chunk_size=None,
    ):
        super().__init__(layer_sizes)
        self.activations = check_activations(activation, len(self.layer_sizes) - 2)
        if chunk_size is not None and (
            not isinstance(chunk_size, numbers.Integral)
            or isinstance(chunk_size, bool)
            or chunk_size < 1
        ):
            raise ValueError(
                f"chunk_size must be a positive integer, got {chunk_size!r}."
            )
        # As given: one name, or the tuple of one per hidden layer.
        self.activation = (
            activation if isinstance(activation, str) else self.activations
        )
        # One Activation per hidden layer (see activations.Activation).
        self.g = tuple(HIDDEN_ACTIVATIONS[name] for name in self.activations)
        self.loss = get_loss(loss)
        self.out_activation = self.loss.out_activation
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}.")
        widest = max(self.layer_sizes[1:])
        self.chunk_size = int(
            chunk_size or DEFAULT_CHUNK_SIZE or max(64, _CHUNK_ELEMENTS // widest)
        )
        # Multiply-adds per row of a gradient: forward, Delta, hidden signals.
        self.gradient_work = 3 * self.n_coefs

    # -- buffers --------------------------------------------------------------
    def _buffers(self, rows, worker=0):
        """One worker's buffers for blocks of ``rows`` rows, reused while large
        enough: activations, hidden signals, one block's gradient ``Delta`` and
        the worker's sum of them ``part``."""
        work = self.__dict__.setdefault("_work", [])
        while len(work) <= worker:
            Delta, part = np.empty((2, self.n_params), self.dtype)
            work.append({"rows": 0, "Delta": Delta, "part": part})
        w = work[worker]
        if rows > w["rows"]:
            dt = self.dtype
            w["A"] = [np.empty((rows, n), dt) for n in self.layer_sizes[1:]]
            w["delta"] = [np.empty((rows, n), dt) for n in self.layer_sizes[1:-1]]
            w["Z"] = self.z_buffers(rows)
            w["ones"] = np.ones(rows, dt)
            w["rows"] = rows
        return w

    def z_buffers(self, rows):
        """Buffers for the ``Z(l)`` that the backward pass needs: one per hidden
        layer whose ``g'`` is not a function of ``A(l)`` (GELU, SiLU), None for
        the others."""
        return [
            np.empty((rows, n), self.dtype) if g.needs_z else None
            for n, g in zip(self.layer_sizes[1:-1], self.g, strict=True)
        ]

    def __getstate__(self):
        # Buffers are scratch space: never pickled.
        state = self.__dict__.copy()
        state.pop("_work", None)
        return state

    def as_theta(self, theta):
        """``theta`` as an array in the network's dtype."""
        theta = np.asarray(theta)
        if theta.dtype != self.dtype:
            # SciPy's optimizers work in float64: one O(n_params) cast per call
            # keeps every O(m n_params) product in the network's own dtype.
            theta = theta.astype(self.dtype)
        return theta

    # -- forward --------------------------------------------------------------
    def cascade(self, coefs, intercepts, X, acts, zs=None):
        """The forward cascade over one block of rows, into ``acts``.

        ``Z(l) = A(l-1) W(l) + b(l)`` and, for the hidden layers,
        ``A(l) = g(Z(l))`` in place: ``acts[l - 1]`` receives ``A(l)``, and
        ``acts[L - 1]`` the output's logits ``Z(L)``, which it returns.  Where
        ``zs`` (from :meth:`z_buffers`) holds a buffer, ``Z(l)`` is kept there
        for the backward pass.  The one forward pass of the package: the
        gradient, the curvature products and prediction all run it.
        """
        A = X
        last = len(coefs) - 1
        for l, (W, b, A_l) in enumerate(zip(coefs, intercepts, acts, strict=True)):
            Z = A_l if l == last or zs is None or zs[l] is None else zs[l]
            if l == 0 and sp.issparse(X):
                np.copyto(Z, X @ W)
            else:
                np.matmul(A, W, out=Z)
            Z += b
            if l < last:
                self.g[l].forward(Z, A_l)
            A = A_l
        return A

    def forward(self, theta, X, out_activation=True):
        """Output activations ``A(L)`` for the rows of ``X``.

        ``theta`` is a flat parameter vector or a pair ``(coefs,
        intercepts)`` of per-layer arrays.  ``out_activation=False`` returns
        the logits ``Z(L)``.  Allocates its own memory, block by block, so it
        is safe to call from several threads.  Runs on the thread setting of
        :func:`~skbackprop._engine.threads.plan` for ``X``'s size: large
        ``X`` is split between row workers.
        """
        if isinstance(theta, tuple):
            coefs, intercepts = theta
        else:
            coefs, intercepts = self.unpack(self.as_theta(theta))
        m = X.shape[0]
        out = np.empty((m, self.layer_sizes[-1]), self.dtype)
        final = OUTPUT_ACTIVATIONS[self.out_activation] if out_activation else None

        def part(k, start, stop):
            rows = min(self.chunk_size, stop - start)
            hidden = [np.empty((rows, n), self.dtype) for n in self.layer_sizes[1:-1]]
            for lo in range(start, stop, self.chunk_size):
                hi = min(lo + self.chunk_size, stop)
                acts = [a[: hi - lo] for a in hidden] + [out[lo:hi]]
                Z = self.cascade(coefs, intercepts, X[lo:hi], acts)
                if final is not None:
                    final(Z)

        with threads.hold(m, self.n_coefs):
            threads.map_rows(part, m, self.n_coefs)
        return out

    # -- cost and gradient ----------------------------------------------------
    def cost_grad(self, theta, X, Y, sample_weight=None, alpha=0.0, out=None):
        """Cost ``J`` and flat regularized batch gradient ``D``.

        See :func:`~skbackprop.cost_grad` for the parameters.  ``X`` must be
        dense or CSR, ``Y`` 2-D, both in this network's dtype; ``out`` (if
        given) receives ``D``.
        """
        theta = self.as_theta(theta)
        m = X.shape[0]
        S = weight_sum(m, sample_weight, "cost")
        D = np.empty(self.n_params, self.dtype) if out is None else out
        params = self.params(theta)

        def accumulate(k, start, stop):
            # Worker k sums its blocks into its own accumulator (D for k=0).
            sw = None if sample_weight is None else sample_weight[start:stop]
            Delta = D if k == 0 else self._buffers(0, k)["part"]
            J = self.accumulate(params, X[start:stop], Y[start:stop], sw, Delta, k)
            return J, Delta

        # Far from a minimum (a line search's trial step, a too-large learning
        # rate) the cost can overflow: J is then inf or nan, which the solvers
        # handle and the estimators report; numpy's warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            parts = threads.map_rows(accumulate, m, self.gradient_work)
            J = parts[0][0]
            for J_k, Delta in parts[1:]:
                J += J_k
                D += Delta
            J, D = self.regularize(theta, J, D, alpha, S)
        return J, D

    def regularize(self, theta, J, D, alpha, S):
        """Add the penalty to the sums ``J``, ``Delta`` and divide by ``S``.

        ``D(l) = (Delta(l) + alpha W(l)) / S``; the biases (after ``n_coefs``)
        are not regularized.  Writes ``D`` in place; returns ``(J, D)``.
        """
        W = theta[: self.n_coefs]
        if penalized(alpha):
            J += penalty(alpha, W)
            D[: self.n_coefs] += alpha * W
        D *= self.dtype.type(1.0 / S)
        return J / S, D

    def params(self, theta):
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

    def accumulate(self, params, X, Y, sample_weight, D, worker=0):
        """Loss sum and ``Delta`` (and bias sums) over all rows, into ``D``.

        The unnormalized part of :meth:`cost_grad` that splits exactly over
        rows: sums over disjoint row sets add up to the whole batch's.
        ``params`` comes from :meth:`params`; ``D`` is overwritten.  Zero rows
        give zeros.
        """
        m = X.shape[0]
        if m == 0:
            D[...] = 0
            return 0.0
        # Equal blocks of at most chunk_size rows.
        n_blocks = -(-m // self.chunk_size)
        chunk = -(-m // n_blocks)
        buffers = self._buffers(chunk, worker)
        J = 0.0
        for start in range(0, m, chunk):
            stop = min(start + chunk, m)
            # The literal algorithm accumulates Delta example by example; we
            # accumulate it block by block: the first block writes D, later
            # ones add to it.
            Delta = D if start == 0 else buffers["Delta"]
            sw = None if sample_weight is None else sample_weight[start:stop]
            J += self._block(params, X[start:stop], Y[start:stop], sw, Delta, buffers)
            if start:
                D += Delta
        return J

    def _block(self, params, X, Y, sw, Delta, buffers):
        """Forward and backward over one block of rows; returns its loss sum.

        Writes ``Delta(l)`` and the bias sums of the block into ``Delta``.
        """
        coefs, coefs_T, intercepts = params
        rows = X.shape[0]
        ones = buffers["ones"][:rows]
        Delta_coefs, Delta_b = self.unpack(Delta)
        acts = [a[:rows] for a in buffers["A"]]
        zs = [None if Z is None else Z[:rows] for Z in buffers["Z"]]
        delta = self.cascade(coefs, intercepts, X, acts, zs)

        # Loss from the logits Z(L); Z(L) becomes the output signal A(L) - Y.
        row_loss = self.loss.loss_signal(delta, Y)
        J = float(row_loss.sum() if sw is None else np.dot(sw, row_loss))
        if sw is not None:
            delta *= sw[:, None]

        # Backward two-step rule, from the output layer down.
        acts = [X] + acts
        for l in range(len(coefs) - 1, -1, -1):
            A_prev = acts[l]
            if l == 0 and sp.issparse(X):
                np.copyto(Delta_coefs[0], A_prev.T @ delta)
            else:
                np.matmul(A_prev.T, delta, out=Delta_coefs[l])  # Delta(l)
            # Bias sums as a matrix-vector product: faster than np.sum.
            np.matmul(ones, delta, out=Delta_b[l])
            if l > 0:
                # d(l-1) = (d(l) W(l)') .* g'(Z(l-1)); A_prev is not needed after.
                new = buffers["delta"][l - 1][:rows]
                np.matmul(delta, coefs_T[l], out=new)
                delta = self.g[l - 1].derivative(A_prev, zs[l - 1], new)
        return J
