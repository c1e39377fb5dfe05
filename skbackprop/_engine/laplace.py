"""The Laplace approximation: posterior precision, its factor, error bars.

MacKay's (1992) Gaussian approximation of the posterior over the
parameters around a fitted ``theta``, with the Gauss-Newton matrix in place
of the Hessian (Foresee & Hagan 1997).  With ``G_D = sum_i s_i J_i' H_i J_i``
the data part of the Gauss-Newton matrix
(:mod:`~skbackprop._engine.gauss_newton`), ``P`` the 0/1 diagonal of the
penalized weights and ``beta`` the noise precision (1 for the log-losses and
Poisson), the posterior precision is ``A = beta M`` with::

    M = G_D + alpha P + epsilon (I - P)

``alpha`` the package's penalty (``alpha_w / beta``).  The fit leaves the
biases unpenalized; the posterior gives them a broad Gaussian prior of
precision ``beta epsilon``, ``epsilon`` :data:`EPSILON` times the mean of
``diag(G_D)`` (:func:`free_precision`), whose penalty on the fit would be
negligible.  It keeps ``M`` invertible when a bias has no curvature (a unit
switched off by the prior: its outgoing weights near zero) and the
evidence finite.  Everything here runs in float64 on the lower Cholesky
factor ``L`` of ``M``:

* ``diag(P M^-1)``, the squared column norms of ``L^-1 P``, whose sum
  (over a group of weights) is ``tr(P M^-1)``, and ``log det M = 2 sum log diag(L)``;
* the predictive variance of output ``k`` of a row, ``g' A^-1 g = ||L^-1
  g||^2 / beta``, ``g`` the row of the Jacobian ``J_i`` of that output.

The *last-layer* approximation (Kristiadi, Hein & Hennig 2020) keeps the
hidden layers at their fitted values: the output layer is then a linear
model of the last hidden layer's outputs ``phi = [A(L-1), 1]``, with the
same ``M`` for every output, ``M = Phi' S Phi + alpha P + epsilon (I - P)``
(identity output), of size ``n_{L-1} + 1`` whatever the network's.
"""

import numpy as np
from scipy.linalg import LinAlgError, cholesky, solve_triangular
from scipy.linalg.lapack import dtrtri as trtri

from skbackprop._engine.gauss_newton import output_hessians
from skbackprop._engine.jacobian import blocks, jacobian_rows, network_jacobian

# epsilon relative to the mean curvature of a parameter: a prior 1000 times
# wider than the posterior of a typical bias.
EPSILON = 1e-6

# Rows of hidden-layer outputs computed at once for the last-layer matrices.
_FEATURE_ROWS = 4096


def free_precision(diagonal=None, mean=None):
    """``epsilon``: :data:`EPSILON` times the mean of ``diag(G_D)`` (of the
    ``diagonal``, or its ``mean``)."""
    if mean is None:
        mean = float(np.mean(diagonal)) if len(diagonal) else 0.0
    return EPSILON * (mean if mean > 0 else 1.0)


def row_totals(net, values):
    """The sums of ``values`` (one per weight) over each row of each
    ``W(l)``, the layers' in turn: ``sum_l n_{l-1}`` entries."""
    return np.concatenate(
        [values[lo:hi].reshape(shape).sum(axis=1) for lo, hi, shape in net._coef_slices]
    )


def free_entries(n, n_coefs, alpha):
    """The 0/1 diagonal ``I - P`` of the entries without a prior of their own:
    the biases, and the weights whose ``alpha`` (a float or one per weight)
    is 0."""
    free = np.ones(n)
    free[:n_coefs] = np.broadcast_to(np.asarray(alpha) == 0, n_coefs)
    return free


def prior_diagonal(n, n_coefs, alpha, epsilon):
    """The prior's part ``alpha P + epsilon (I - P)`` of ``M``, a diagonal."""
    a = epsilon * free_entries(n, n_coefs, alpha)
    a[:n_coefs] += alpha
    return a


def precision(G, n_coefs, alpha, epsilon):
    """``M = G + alpha P + epsilon (I - P)`` in float64, from the data sum ``G``.

    ``G`` is ``G_D`` (``n_params x n_params``), or the last layer's
    ``Phi' S Phi``; the first ``n_coefs`` parameters are the weights.
    """
    M = np.array(G, dtype=np.float64)
    d = np.einsum("ii->i", M)
    d += prior_diagonal(len(M), n_coefs, alpha, epsilon)
    return M


def factor(M):
    """The lower Cholesky factor ``L`` of ``M`` (``M = L L'``).

    ``M`` is positive definite by construction; should rounding make the
    factorization fail, the diagonal is raised by ``1e-12``, ``1e-10``, ...
    of its mean until it succeeds.
    """
    scale = float(np.mean(np.abs(np.diag(M)))) or 1.0
    ridge = 0.0
    for _ in range(6):
        try:
            shifted = M + ridge * np.eye(len(M)) if ridge else M
            return cholesky(shifted, lower=True, check_finite=False)
        except LinAlgError:
            ridge = 100 * ridge if ridge else 1e-12 * scale
    raise ValueError(
        "The posterior precision is not positive definite (its Cholesky "
        "factorization failed): the network's outputs may have overflowed. "
        "Scale the inputs and targets."
    )


def gauss_newton_diagonal(net, theta, X, Y, sample_weight):
    """``diag(G_D) = sum_i s_i diag(J_i' H_i J_i)``, from the dense Jacobian
    rows block by block: ``O(m n_L n_params)`` operations."""
    d = np.zeros(net.n_params)
    identity = net.loss.unit_hessian
    for start, stop, lin in blocks(net, theta, X, jacobian_rows(net)):
        Jac = lin.dense().astype(np.float64)
        sw = (
            np.ones(stop - start)
            if sample_weight is None
            else sample_weight[start:stop]
        )
        if identity:
            d += np.einsum("r,rkp,rkp->p", sw, Jac, Jac)
        else:
            H = output_hessians(net, lin.Z, Y[start:stop]).astype(np.float64)
            d += np.einsum("r,rkp,rkl,rlp->p", sw, Jac, H, Jac, optimize=True)
    return d


def weight_variances(L, n_coefs):
    """``diag(P M^-1)``'s first ``n_coefs`` entries: the sums of squares of
    the first ``n_coefs`` columns of ``L^-1`` (``M^-1 = L^-T L^-1``), by
    LAPACK's triangular inverse (a third of ``n^3`` multiply-adds, half those
    of a triangular solve)."""
    if n_coefs == 0:
        return np.zeros(0)
    L_inv, info = trtri(L, lower=1)
    if info:
        raise ValueError(f"The Cholesky factor is singular (LAPACK info {info}).")
    W = L_inv[:, :n_coefs]
    return np.einsum("ij,ij->j", W, W)


def weight_trace(L, n_coefs):
    """``tr(P M^-1)``: the sum of :func:`weight_variances`."""
    return float(np.sum(weight_variances(L, n_coefs)))


def log_det(L):
    """``log det M`` from its Cholesky factor."""
    return 2.0 * float(np.sum(np.log(np.diag(L))))


def _robust_roots(G, roots):
    """``roots(G / u, u)`` for the rows of ``G`` (shape ``(k, n)``), ``u``
    each row's largest entry (1 for a zero row), and ``inf`` where a row
    overflowed: the row scaling of a robust norm, so that no square
    overflows where the result is finite (inputs near ``1e160``)."""
    G = np.asarray(G, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.max(np.abs(G), axis=1) if G.size else np.zeros(len(G))
        unit = np.where((s > 0) & np.isfinite(s), s, 1.0)
        out = roots(G / unit[:, None], unit)
    out[~np.isfinite(s)] = np.inf  # an overflowed Jacobian row
    return out


def quadratic_roots(L, G):
    """``sqrt(g' M^-1 g) = ||L^-1 g||`` for each row ``g`` of ``G`` (shape
    ``(k, n)``), computed as a robust norm (:func:`_robust_roots`), ``L^-1
    g`` divided by its largest entry before squaring."""

    def roots(U, unit):
        Z = solve_triangular(L, U.T, lower=True, check_finite=False)
        t = np.max(np.abs(Z), axis=0) if Z.size else np.zeros(len(U))
        t = np.where(t > 0, t, 1.0)
        Z /= t
        return unit * t * np.sqrt(np.einsum("ij,ij->j", Z, Z))

    return _robust_roots(G, roots)


def quadratic_forms(L, G):
    """``g' M^-1 g`` for each row ``g`` of ``G`` (shape ``(k, n)``)."""
    return quadratic_roots(L, G) ** 2


def full_variances(net, theta, X, L, root=False):
    """``g' M^-1 g`` for every row of ``X`` and output: shape ``(m, n_L)``;
    its square root with ``root`` (which overflows only where it is itself
    beyond float64).

    ``g`` runs over the rows of the dense Jacobian ``J_i``, taken block by
    block (memory ``O(rows * n_L * n_params)`` whatever ``m``).
    """
    return _jacobian_roots(net, theta, X, lambda G: quadratic_roots(L, G), root)


def data_space_roots(L, basis, scale, G):
    """``sqrt(g' M^-1 g)`` for each row ``g`` of ``G`` (shape ``(k, n)``) from
    the data-space posterior (:func:`~skbackprop._engine.data_space.posterior`):
    ``||h - Q Q'h||^2 + ||L^-1 Q'h||^2``, ``h = scale * g``, as a robust
    norm (:func:`_robust_roots`)."""

    def roots(U, unit):
        with np.errstate(over="ignore"):
            H = U * scale
            q = H @ basis
            H -= q @ basis.T
            return unit * np.hypot(np.linalg.norm(H, axis=1), quadratic_roots(L, q))

    return _robust_roots(G, roots)


def data_space_variances(net, theta, X, posterior, root=False):
    """:func:`full_variances` from the data-space posterior."""
    L, basis, scale = posterior["factor"], posterior["basis"], posterior["scale"]
    return _jacobian_roots(
        net, theta, X, lambda G: data_space_roots(L, basis, scale, G), root
    )


def _jacobian_roots(net, theta, X, roots, root):
    """``roots`` of the dense Jacobian's rows for every row of ``X`` and
    output, shape ``(m, n_L)``, block by block; squared unless ``root``."""
    m, n_out = X.shape[0], net.layer_sizes[-1]
    out = np.empty((m, n_out))
    rows = jacobian_rows(net)
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        Jac = network_jacobian(net, theta, X[start:stop])
        r = roots(Jac.reshape(-1, net.n_params))
        out[start:stop] = r.reshape(stop - start, n_out)
    return out if root else out**2


def features(net, theta, X):
    """The last layer's inputs ``phi = [A(L-1), 1]``, shape ``(m, n_{L-1} + 1)``.

    The forward cascade of the hidden layers (:meth:`Network.cascade`) with
    a column of ones appended for the output bias.
    """
    coefs, intercepts = net.unpack(net.as_theta(theta))
    m, n = X.shape[0], net.layer_sizes[-2]
    Phi = np.empty((m, n + 1), net.dtype)
    Phi[:, n] = 1
    if len(coefs) == 1:
        Phi[:, :n] = X.toarray() if hasattr(X, "toarray") else X
        return Phi
    hidden = net.g[-1].forward  # the last hidden layer's activation
    buffers = [
        np.empty((min(m, _FEATURE_ROWS), k), net.dtype) for k in net.layer_sizes[1:-1]
    ]
    for start in range(0, m, _FEATURE_ROWS):
        stop = min(start + _FEATURE_ROWS, m)
        acts = [b[: stop - start] for b in buffers]
        # The cascade leaves its last layer's logits: apply g to them here.
        Z = net.cascade(coefs[:-1], intercepts[:-1], X[start:stop], acts)
        Phi[start:stop, :n] = hidden(Z)
    return Phi


def last_layer_gram(net, theta, X, sample_weight):
    """``Phi' S Phi`` of the last layer's inputs, block by block, in float64."""
    n = net.layer_sizes[-2] + 1
    G = np.zeros((n, n))
    for start in range(0, X.shape[0], _FEATURE_ROWS):
        stop = min(start + _FEATURE_ROWS, X.shape[0])
        Phi = features(net, theta, X[start:stop]).astype(np.float64)
        sw = None if sample_weight is None else sample_weight[start:stop, None]
        G += Phi.T @ (Phi if sw is None else Phi * sw)
    return G


def last_layer_variances(net, theta, X, L, root=False):
    """``phi' M^-1 phi`` for every row of ``X``, the same for every output:
    shape ``(m, n_L)``; its square root with ``root``."""
    m, n_out = X.shape[0], net.layer_sizes[-1]
    out = np.empty((m, n_out))
    for start in range(0, m, _FEATURE_ROWS):
        stop = min(start + _FEATURE_ROWS, m)
        r = quadratic_roots(L, features(net, theta, X[start:stop]))
        out[start:stop] = r[:, None]
    return out if root else out**2
