"""The evidence's terms through the data space, from the Jacobian's factors.

With ``B`` the square root of the Gauss-Newton matrix (``B' B = G_D``: row
``(i, k)`` is ``sqrt(s_i)`` times column ``k`` of ``R_i' J_i``, ``H_i = R_i
R_i'`` the loss's Hessian in the logits) and ``a`` the prior's diagonal
(:func:`~skbackprop._engine.laplace.prior_diagonal`), Woodbury's identity
gives, for ``M = B' B + diag(a)``::

    M^-1 = diag(a)^-1 - diag(a)^-1 B' K^-1 B diag(a)^-1,
    K = I + B diag(a)^-1 B',      det M = det diag(a) det K

with ``K`` of the data's size ``r`` (rows times outputs), not the
parameters'.  ``B`` is never formed.  Its block of ``W(l)`` in row ``(i,
k)`` is the outer product ``A_i(l-1) d_ik(l)'`` of the layer's input and
the backward signal (:meth:`Linearization.signals`, after ``R_i'`` and
``sqrt(s_i)``), so for a prior ``a`` that is the same along each row of
``W(l)`` (one value per input of the layer: ``alpha="ard"``'s groups and
the single ``alpha``)::

    K = I + sum_l (A(l-1) diag(a_l)^-1 A(l-1)'  +  1 / epsilon) .* (d(l) d(l)')

the first factor indexed by the rows' examples, ``.*`` elementwise.  That
costs ``r^2 n_l / 2 + m^2 n_{l-1} / 2`` multiply-adds per layer, where the
product ``B B'`` costs ``r^2 n_{l-1} n_l / 2``.  The sum of ``diag(M^-1)``
over row ``p`` of ``W(l)`` (what the re-estimates need, summed over the
groups) is, with ``Q_l = K^-1 .* (d(l) d(l)')`` summed over each example's
outputs into ``m x m``::

    n_l / a_lp  -  (A(l-1)' Q_l A(l-1))_pp / a_lp^2
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dpotri as potri

from skbackprop._engine import laplace
from skbackprop._engine.gauss_newton import hessian_roots, output_hessians
from skbackprop._engine.jacobian import blocks, fill_jacobian, linearization_rows


class Signals:
    """Each layer's input ``A(l-1)`` (dense float64 or CSR, ``m`` rows) and
    backward signals ``d(l)`` (``m k x n_l`` float64, example ``i``'s ``k``
    rows together), after ``R_i'`` and ``sqrt(s_i)``: ``k`` is ``n_L``, one
    fewer for softmax (its Hessians' null direction left out, as by
    :func:`~skbackprop._engine.gauss_newton.hessian_roots` over all rows)."""

    def __init__(self, net, theta, X, Y, sample_weight):
        inputs = [[] for _ in net.layer_sizes[1:]]
        deltas = [[] for _ in net.layer_sizes[1:]]
        hessians = []
        for start, stop, lin in blocks(net, theta, X, linearization_rows(net)):
            if not net.loss.unit_hessian:
                hessians.append(output_hessians(net, lin.Z, Y[start:stop]))
            for l, (A, delta) in enumerate(lin.signals()):
                inputs[l].append(_float64(A))
                deltas[l].append(np.array(delta, np.float64))
        self.m = X.shape[0]
        R = None
        if hessians:
            R = hessian_roots(np.concatenate(hessians).astype(np.float64))
            R = R.transpose(0, 2, 1)
        self.inputs = [
            sp.vstack(A, "csr") if sp.issparse(A[0]) else np.vstack(A) for A in inputs
        ]
        self.deltas = []
        for parts in deltas:
            d = np.concatenate(parts)
            if R is not None:
                d = np.matmul(R, d)
            if sample_weight is not None:
                d *= np.sqrt(sample_weight)[:, None, None]
            self.k = d.shape[1]
            self.deltas.append(d.reshape(-1, d.shape[-1]))

    def curvature_mean(self, n_params):
        """The mean of ``diag(G_D)``: ``sum_ij A_ip^2 d_jh^2`` over each
        weight and ``sum_j d_jh^2`` over each bias, ``j`` the example's rows."""
        total = 0.0
        for A, d in zip(self.inputs, self.deltas, strict=True):
            d2 = np.einsum("jh,jh->j", d, d).reshape(self.m, self.k).sum(axis=1)
            total += float(d2 @ _row_squares(A)) + float(d2.sum())
        return total / n_params


def _float64(A):
    if sp.issparse(A):
        return sp.csr_matrix(A, dtype=np.float64)
    return np.asarray(A, np.float64)


def _row_squares(A):
    if sp.issparse(A):
        return np.asarray(A.multiply(A).sum(axis=1)).ravel()
    return np.einsum("ip,ip->i", A, A)


def _scaled_gram(A, scale):
    """``A diag(scale) A'``, dense."""
    if sp.issparse(A):
        return np.asarray((A.multiply(scale) @ A.T).todense())
    return (A * scale) @ A.T


def _quadratic_diagonal(A, Q):
    """``diag(A' Q A)`` for symmetric ``Q``."""
    if sp.issparse(A):
        return np.asarray(A.multiply(np.asarray((A.T @ Q).T)).sum(axis=0)).ravel()
    return np.einsum("ip,ip->p", A, Q @ A)


def _by_example(Q, m, k):
    """The ``m k x m k`` matrix ``Q`` viewed as ``m x k x m x k``."""
    return Q.reshape(m, k, m, k)


def row_priors(net, alpha, epsilon):
    """The prior's diagonal of each ``W(l)`` as one value per row (input of
    the layer): ``alpha`` (a float, or one per weight that is the same
    along each row), ``epsilon`` where it is 0."""
    a = laplace.prior_diagonal(net.n_params, net.n_coefs, alpha, epsilon)
    priors = []
    for lo, hi, shape in net._coef_slices:
        block = a[lo:hi].reshape(shape)
        if np.any(block != block[:, :1]):
            raise ValueError(
                "The data-space terms need a prior that is the same along each "
                "row of every weight matrix."
            )
        priors.append(block[:, 0].copy())
    return priors


def terms(signals, priors, epsilon):
    """The sums of ``diag(M^-1)`` over each row of each ``W(l)`` (the
    layers' in turn) and ``log det M``.

    ``priors`` from :func:`row_priors`; ``epsilon`` the biases' prior.
    About ``r^3`` multiply-adds for ``K``'s Cholesky factor and inverse,
    plus per layer those of the module's formulas.
    """
    m, k = signals.m, signals.k
    r = m * k
    K = np.eye(r)
    log_det_prior = 0.0
    layers = list(zip(signals.inputs, signals.deltas, priors, strict=True))
    for A, d, a in layers:
        inputs = _scaled_gram(A, 1.0 / a)
        inputs += 1.0 / epsilon
        # Each example's k rows share their inputs' entry.
        DD = d @ d.T
        _by_example(DD, m, k)[...] *= inputs[:, None, :, None]
        K += DD
        n_l = d.shape[1]
        log_det_prior += n_l * (float(np.sum(np.log(a))) + np.log(epsilon))
    C = laplace.factor(K)
    log_det = log_det_prior + laplace.log_det(C)
    K_inv, info = potri(C, lower=1)
    if info:
        raise ValueError(f"The Cholesky factor is singular (LAPACK info {info}).")
    # potri fills the lower triangle (C's upper one is 0): K^-1 in full.
    K_inv += np.tril(K_inv, -1).T
    rows = []
    for A, d, a in layers:
        # d d' again rather than kept from K's loop: one r x r array less.
        Q = d @ d.T
        Q *= K_inv
        if k > 1:
            Q = _by_example(Q, m, k).sum(axis=(1, 3))
        rows.append(d.shape[1] / a - _quadratic_diagonal(A, Q) / a**2)
    return np.concatenate(rows), log_det


def jacobian_root(net, signals):
    """``B`` itself, ``r x n_params`` in the parameters' order: the outer
    products of the signals (:func:`~skbackprop._engine.jacobian.fill_jacobian`)."""
    m, k = signals.m, signals.k
    layers = [
        (A, d.reshape(m, k, -1))
        for A, d in zip(signals.inputs, signals.deltas, strict=True)
    ]
    B = fill_jacobian(net, layers, np.empty((m, k, net.n_params)))
    return B.reshape(m * k, net.n_params)


def posterior(net, signals, a):
    """The whole network's posterior through the data space, for its
    predictive variances (:func:`~skbackprop._engine.laplace.data_space_variances`).

    With ``U = B diag(a)^-1/2`` and the thin QR factorization ``U' = Q R``
    (``Q`` of shape ``n x r``, orthonormal columns)::

        M^-1 = D^-1/2 (I + U'U)^-1 D^-1/2,
        (I + U'U)^-1 = Q (I + R R')^-1 Q' + (I - Q Q')

    so ``g' M^-1 g = ||h - Q Q'h||^2 + ||C^-1 Q'h||^2`` with ``h =
    diag(a)^-1/2 g`` and ``C C' = I + R R'``: no difference of large
    numbers (the biases' broad prior makes ``h`` large where the data
    determine the bias well).  Returns ``{"factor": C, "basis": Q, "scale":
    diag(a)^-1/2}``: ``2 n r^2 + r^3 / 3`` multiply-adds and ``8 (n + r) r``
    bytes, against ``n^3 / 3`` and ``8 n^2`` for ``M``'s factor.
    """
    scale = 1.0 / np.sqrt(a)
    U = jacobian_root(net, signals)
    U *= scale
    Q, R = np.linalg.qr(U.T)
    K = R @ R.T
    K[np.diag_indices_from(K)] += 1.0
    return {"factor": laplace.factor(K), "basis": Q, "scale": scale}
