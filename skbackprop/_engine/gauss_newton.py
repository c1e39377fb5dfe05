"""The dense Gauss-Newton matrix, with the cost and gradient of the same pass.

The generalized Gauss-Newton matrix (Schraudolph 2002) of the cost of
:meth:`Network.cost_grad` is::

    G = (1/S) sum_i s_i J_i' H_i J_i + (alpha / S) I_W

with ``J_i`` the Jacobian of row ``i``'s logits
(:class:`~skbackprop._engine.jacobian.Linearization`), ``H_i`` the loss's
Hessian in them (``I`` for squared error, ``p(1-p)`` for binary log-loss,
``diag(p) - p p'`` for softmax log-loss, ``exp(z)`` for Poisson: columns of
the loss's ``hessp``) and ``I_W`` the identity on the weights only.
The same Jacobian rows give the gradient, ``D = (1/S) sum_i s_i J_i' d_i(L)
+ (alpha / S) W`` with ``d(L) = A(L) - Y``, so one pass over the rows, block
by block, yields ``J``, ``D`` and ``G`` in ``O(n_params^2 + rows * n_L *
n_params)`` memory whatever ``m``.

Levenberg-Marquardt's geodesic acceleration (Transtrum & Sethna 2012) needs
one more product of the same weighting, along the step ``v``::

    (1/S) sum_i s_i J_i' H_i r_vv,i

with ``r_vv,i`` the second directional derivative of row ``i``'s logits
along ``v`` (:meth:`Linearization.jvp2`): :func:`network_geodesic`, one
pass over the rows without the dense Jacobian.  The penalty, quadratic in
``theta``, adds nothing to it.
"""

import functools

import numpy as np
from scipy.linalg import get_blas_funcs

from skbackprop._engine import threads
from skbackprop._engine.activations import OUTPUT_ACTIVATIONS
from skbackprop._engine.jacobian import blocks, jacobian_rows, linearization_rows
from skbackprop._engine.network import penalty


def output_hessians(net, Z, Y):
    """The loss's Hessians ``H_i`` in the logits, shape ``(rows, n_L, n_L)``.

    Column ``k`` of every ``H_i`` is ``hessp(A, Y, e_k)``, the R-operator's
    output step along the unit direction.
    """
    loss = net.loss
    A = OUTPUT_ACTIVATIONS[loss.out_activation](Z.copy())
    rows, n_out = A.shape
    H = np.empty((rows, n_out, n_out), net.dtype)
    E = np.zeros_like(A)
    for k in range(n_out):
        E[:, k] = 1
        H[:, :, k] = loss.hessp(A, Y, E)
        E[:, k] = 0
    return H


def hessian_roots(H):
    """``R_i`` with ``H_i = R_i R_i'`` for each ``H_i`` of ``H`` (shape
    ``(rows, n_L, n_L)``), from their eigendecompositions: the losses'
    Hessians in the logits are positive semi-definite (softmax's singular),
    so no Cholesky factor; rounding's negative eigenvalues count as 0.

    Where every ``H_i``'s smallest eigenvalue is zero but for rounding
    (softmax's: ``H_i 1 = 0``, to the rounding of ``p``), its column is left
    out: ``(rows, n_L, n_L - 1)``, fewer rows for the products that follow.
    Rounding is measured against the block's largest eigenvalue: a row whose
    probabilities are nearly one-hot has a tiny ``H_i``, all of it at the
    level of rounding.
    """
    lam, U = np.linalg.eigh(H)
    R = U * np.sqrt(np.clip(lam, 0.0, None))[:, None, :]
    n = H.shape[-1]
    if n > 1 and len(H):
        rounding = 8 * n * np.finfo(lam.dtype).eps * np.max(np.abs(lam))
        if np.all(lam[:, 0] <= rounding):
            return R[:, :, 1:]
    return R


def _add_curvature(G, Jac, H, sw):
    """Add ``sum_i s_i J_i' H_i J_i`` of one block to ``G``'s upper triangle.

    As ``F' F`` with ``F_i = sqrt(s_i) R_i' J_i`` and ``H_i = R_i R_i'``
    (``R_i = sqrt(H_i)`` for the diagonal ``H_i`` of every loss but softmax
    log-loss, :func:`hessian_roots` for softmax's): BLAS's symmetric rank-k
    update ``syrk``, straight into ``G``, computes one triangle in half the
    multiply-adds of the general product ``J' (H J)`` (measured 1.7-2x
    faster from 97 to 501 parameters, as numpy's ``F.T @ F`` plus the
    addition).  ``Jac`` is scaled into ``F`` in place where ``H`` is
    diagonal.
    """
    rows, n_out, P = Jac.shape
    n = rows * n_out
    h = np.diagonal(H, axis1=1, axis2=2) if H is not None else None
    if H is None or n_out == 1 or not np.any(H - h[:, :, None] * np.eye(n_out)):
        w = h if sw is None else (sw[:, None] if h is None else h * sw[:, None])
        if w is not None:
            Jac *= np.sqrt(w)[:, :, None]
    else:
        Jac = np.matmul(hessian_roots(H).transpose(0, 2, 1), Jac)
        if sw is not None:
            Jac *= np.sqrt(sw)[:, None, None]
        n = Jac.shape[0] * Jac.shape[1]
    # G is C-ordered: its transpose is the Fortran array BLAS updates in
    # place, whose lower triangle is G's upper one.
    syrk = get_blas_funcs("syrk", (Jac,))
    syrk(1.0, Jac.reshape(n, P).T, beta=1.0, c=G.T, lower=1, overwrite_c=1)


def gauss_newton_sum(net, theta, X, Y, sample_weight):
    """The unnormalized ``(J, D, G)`` of the rows of ``X``, block by block.

    ``sum_i s_i loss_i``, ``sum_i s_i J_i' d_i(L)`` and
    ``sum_i s_i J_i' H_i J_i``: no penalty and no division by ``S``, the
    part of :func:`network_gauss_newton` that splits exactly over rows, so
    that partial sums over a data set's blocks (row workers, Dask blocks)
    add up to it.
    """
    P = net.n_params
    loss = net.loss
    J, D, G = 0.0, np.zeros(P, net.dtype), np.zeros((P, P), net.dtype)
    for start, stop, lin in blocks(net, theta, X, jacobian_rows(net)):
        sw = None if sample_weight is None else sample_weight[start:stop]
        Jac = lin.dense()
        delta = lin.Z.copy()
        row_loss = loss.loss_signal(delta, Y[start:stop])  # delta = d(L)
        if sw is not None:
            row_loss = row_loss * sw
            delta *= sw[:, None]
        J += float(row_loss.sum())
        D += Jac.reshape(-1, P).T @ delta.ravel()
        H = None if loss.unit_hessian else output_hessians(net, lin.Z, Y[start:stop])
        _add_curvature(G, Jac, H, sw)
        del Jac, lin  # one block in memory at a time, not two
    return J, D, mirror_upper(G)


def mirror_upper(G, block=64):
    """Copy ``G``'s upper triangle onto its lower one, in place.

    By square blocks: a block row of the lower triangle is the transpose of
    a block column of the upper one; inside a diagonal block, fancy
    indexing.  Measured 3x faster than fancy indexing over the whole of
    ``G`` at 501 parameters, 4x at 1,537, as fast at 31.
    """
    P = G.shape[0]
    for k in range(0, P, block):
        end = min(k + block, P)
        G[k:end, :k] = G[:k, k:end].T
        square = G[k:end, k:end]
        lower = _lower_triangle(end - k)
        square[lower] = square.T[lower]
    return G


@functools.lru_cache(maxsize=8)
def _lower_triangle(n):
    # Computing these indices took as long as a 30-parameter G pass.
    return np.tril_indices(n, -1)


def regularize_matrix(net, G, alpha, S):
    """Add ``alpha`` to the weights' diagonal and divide by ``S``, in place."""
    n = net.n_coefs
    G[np.arange(n), np.arange(n)] += alpha
    G /= S
    return G


def _weight_sum(X, sample_weight):
    m = X.shape[0]
    if m == 0:
        raise ValueError("Cannot compute the curvature of an empty batch (0 rows).")
    S = float(m) if sample_weight is None else float(np.sum(sample_weight))
    if not S > 0:
        raise ValueError(f"The sample weights must have a positive sum, got {S!r}.")
    return S


def network_gauss_newton(net, theta, X, Y, sample_weight=None, alpha=0.0):
    """``(J, D, G)`` for a :class:`~skbackprop._engine.network.Network`.

    The cost, its gradient (from the Jacobian rows: equal to
    :meth:`Network.cost_grad`'s up to rounding) and the regularized
    Gauss-Newton matrix, in one pass over the rows.
    """
    S = _weight_sum(X, sample_weight)
    theta = net.as_theta(theta)

    def part(k, start, stop):
        sw = None if sample_weight is None else sample_weight[start:stop]
        return gauss_newton_sum(net, theta, X[start:stop], Y[start:stop], sw)

    # A row costs about n_L * n_params^2 / 2 multiply-adds in G; the
    # workers' parts are added in order, so the sums do not depend on timing.
    work = net.layer_sizes[-1] * net.n_params**2 // 2
    with np.errstate(over="ignore", invalid="ignore"):
        parts = threads.map_rows(part, X.shape[0], work)
        J, D, G = parts[0]
        for J_k, D_k, G_k in parts[1:]:
            J += J_k
            D += D_k
            G += G_k
        J, D = net.regularize(theta, J, D, alpha, S)
    return J, D, regularize_matrix(net, G, alpha, S)


def geodesic_sum(net, theta, v, X, Y, sample_weight):
    """The unnormalized ``sum_i s_i J_i' H_i r_vv,i`` of the rows of ``X``.

    Block by block (:func:`~skbackprop._engine.jacobian.linearization_rows`:
    no dense Jacobian, memory flat in the rows): the
    forward cascade at ``theta``, the first and second R-operator passes
    along ``v`` for ``r_vv``, ``H_i r_vv,i`` from the loss's output
    R-operator (``hessp``; ``r_vv`` itself for squared error), one
    backward pass for ``J'``.  Splits exactly over rows, as
    :func:`gauss_newton_sum` does.
    """
    loss = net.loss
    final = OUTPUT_ACTIVATIONS[loss.out_activation]
    out = np.zeros(net.n_params, net.dtype)
    rows = linearization_rows(net, second=True)
    for start, stop, lin in blocks(net, theta, X, rows, second=True):
        _, r_vv = lin.jvp2(v)
        if not loss.unit_hessian:  # H_i r_vv,i
            r_vv = loss.hessp(final(lin.Z.copy()), Y[start:stop], r_vv)
        if sample_weight is not None:
            r_vv *= sample_weight[start:stop, None]
        lin.vjp(r_vv, out)
    return out


def network_geodesic(net, theta, v, X, Y, sample_weight=None):
    """``(1/S) sum_i s_i J_i' H_i r_vv,i``: the geodesic acceleration's product.

    The acceleration ``a`` solves ``(G + mu I) a = -`` this, with the same
    ``G`` and ``S`` as :func:`network_gauss_newton`.
    """
    S = _weight_sum(X, sample_weight)
    theta, v = net.as_theta(theta), net.as_theta(v)

    def part(k, start, stop):
        sw = None if sample_weight is None else sample_weight[start:stop]
        return geodesic_sum(net, theta, v, X[start:stop], Y[start:stop], sw)

    with np.errstate(over="ignore", invalid="ignore"):
        # The workers' parts are added in order: no dependence on timing.
        parts = threads.map_rows(part, X.shape[0], 4 * net.n_coefs)
        total = parts[0]
        for part_k in parts[1:]:
            total += part_k
    return total / S


def network_cost(net, theta, X, Y, sample_weight=None, alpha=0.0):
    """The cost ``J`` alone: one forward pass, no backward (trial steps).

    Block by block, in the blocks of the Gauss-Newton pass
    (:func:`~skbackprop._engine.jacobian.jacobian_rows`), each block's loss
    summed as it comes: the memory is that of one block's activations,
    whatever ``m`` (the whole ``Z(L)`` and row losses took ``16 m n_L``
    bytes).
    """
    S = _weight_sum(X, sample_weight)
    theta = net.as_theta(theta)
    coefs, intercepts = net.unpack(theta)
    row_loss = net.loss.row_loss
    rows = jacobian_rows(net)

    def part(k, start, stop):
        n = min(rows, stop - start)
        acts = [np.empty((n, width), net.dtype) for width in net.layer_sizes[1:]]
        J = 0.0
        for lo in range(start, stop, rows):
            hi = min(lo + rows, stop)
            Z = net.cascade(coefs, intercepts, X[lo:hi], [A[: hi - lo] for A in acts])
            loss = row_loss(Z, Y[lo:hi])
            sw = None if sample_weight is None else sample_weight[lo:hi]
            J += float(loss.sum() if sw is None else np.dot(sw, loss))
        return J

    with np.errstate(over="ignore", invalid="ignore"):
        # The workers' sums are added in order: J does not depend on timing.
        J = sum(threads.map_rows(part, X.shape[0], net.n_coefs))
        J += penalty(alpha, theta[: net.n_coefs])
    return J / S
