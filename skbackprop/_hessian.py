"""Exact Hessian- and Gauss-Newton-vector products by the R-operator.

Pearlmutter's R-operator, ``R{f} = d/dr f(theta + r v) at r = 0``, applied to
every line of the forward cascade and of the backward two-step rule gives
``H v`` at about the cost of one more gradient.  With ``V(l)``, ``Vb(l)`` the
parts of ``v`` laid out as the weights::

    R{Z(l)} = R{A(l-1)} W(l) + A(l-1) V(l) + Vb(l),  R{A(l)} = g'(Z(l)) R{Z(l)}
    R{d(L)} = R{A(L)}                  (matched output/loss pairs)
    R{d(l)} = (R{d(l+1)} W(l+1)' + d(l+1) V(l+1)') g'(Z(l))
              + (d(l+1) W(l+1)') g''(Z(l)) R{Z(l)}
    (H v)(l) = (R{A(l-1)}' s d(l) + A(l-1)' s R{d(l)} + alpha V(l)) / S

The Gauss-Newton product ``G v`` (Schraudolph 2002) keeps only the terms that
pass through the output's curvature: it drops the two terms with ``d(l+1)``
and ``R{A(l-1)}' d(l)``, which makes ``G`` positive semi-definite.
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skbackprop._activations import (
    HIDDEN_ACTIVATIONS,
    HIDDEN_SECOND_DERIVATIVES,
    OUTPUT_ACTIVATIONS,
)
from skbackprop._losses import LOSSES
from skbackprop._network import _network_for, _prepare

CURVATURES = ("exact", "gauss-newton")

# Unlike cost_grad, the R-operator allocates its temporaries block by block.
# Blocks of about 2**14 elements per layer keep them small enough for malloc
# to recycle; blocks of a megabyte or more are fresh pages every call, which
# made H v cost 3-6 gradients instead of 1.5-2 on mid-size problems.
_BLOCK_ELEMENTS = 2**14


def network_hessp(
    net, theta, v, X, Y, sample_weight=None, alpha=0.0, curvature="exact"
):
    """``H v`` (or ``G v``) for a :class:`~skbackprop._network.Network`.

    ``X`` must be dense or CSR and ``Y`` 2-D, in the network's dtype.
    """
    if curvature not in CURVATURES:
        raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}.")
    theta = net._as_theta(theta)
    v = net._as_theta(v)
    if v.shape != theta.shape:
        raise ValueError(f"v must have shape {theta.shape}, got {v.shape}.")
    m = X.shape[0]
    if m == 0:
        raise ValueError("Cannot compute the curvature of an empty batch (0 rows).")
    S = float(m) if sample_weight is None else float(np.sum(sample_weight))
    if not S > 0:
        raise ValueError(f"The sample weights must have a positive sum, got {S!r}.")

    def part(k, start, stop):
        sw = None if sample_weight is None else sample_weight[start:stop]
        return hessp_sum(net, theta, v, X[start:stop], Y[start:stop], sw, curvature)

    # About eight products per layer against the gradient's three: split the
    # rows between workers as cost_grad does, and add the parts in order.
    parts = net.map_rows(part, m, 8 * net.n_coefs)
    Hv = parts[0]
    for P in parts[1:]:
        Hv += P
    Hv[: net.n_coefs] += alpha * v[: net.n_coefs]
    Hv /= S
    return Hv


def hessp_sum(net, theta, v, X, Y, sample_weight, curvature):
    """The data part of ``S H v`` (or ``S G v``): a sum over the rows of ``X``.

    Neither the penalty ``alpha V(l)`` nor the division by ``S``: the part of
    :func:`network_hessp` that splits exactly over row blocks, so that partial
    sums over the blocks of a data set add up to it.  ``theta`` and ``v`` are
    in the network's dtype; zero rows give zeros.
    """
    coefs, intercepts = net.unpack(theta)
    V_coefs, V_intercepts = net.unpack(v)
    m = X.shape[0]
    Hv = np.zeros(net.n_params, net.dtype)
    H_coefs, H_intercepts = net.unpack(Hv)
    exact = curvature == "exact"
    rows = min(net.chunk_size, max(64, _BLOCK_ELEMENTS // max(net.layer_sizes[1:])))
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        sw = None if sample_weight is None else sample_weight[start:stop]
        _block(
            net,
            coefs,
            intercepts,
            V_coefs,
            V_intercepts,
            X[start:stop],
            Y[start:stop],
            sw,
            H_coefs,
            H_intercepts,
            exact,
        )
    return Hv


def _block(
    net,
    coefs,
    intercepts,
    V_coefs,
    V_intercepts,
    X,
    Y,
    sw,
    H_coefs,
    H_intercepts,
    exact,
):
    L = len(coefs)
    second = HIDDEN_SECOND_DERIVATIVES[net.activation]
    loss = LOSSES[net.loss]
    # Forward cascade and its directional derivative.
    acts, R_acts, g1, g2, R_Z = [X], [None], [], [], []
    for l in range(L):
        Z = np.asarray(acts[l] @ coefs[l], dtype=net.dtype) + intercepts[l]
        RZ = np.asarray(acts[l] @ V_coefs[l], dtype=net.dtype) + V_intercepts[l]
        if l > 0:
            RZ += R_acts[l] @ coefs[l]
        if l < L - 1:
            A = HIDDEN_ACTIVATIONS[net.activation](Z)
            d1, d2 = second(A)
            acts.append(A)
            R_acts.append(d1 * RZ)
            g1.append(d1)
            g2.append(d2)
            R_Z.append(RZ)
        else:
            A = OUTPUT_ACTIVATIONS[loss.out_activation](Z)
            R_delta = loss.output_jvp(A, RZ)
            delta = A - Y
    if sw is not None:
        R_delta *= sw[:, None]
        delta *= sw[:, None]
    # Backward: the two-step rule and its directional derivative.
    for l in range(L - 1, -1, -1):
        A_prev = acts[l]
        H_coefs[l] += np.asarray(A_prev.T @ R_delta)
        if exact and l > 0:
            H_coefs[l] += R_acts[l].T @ delta
        H_intercepts[l] += R_delta.sum(axis=0)
        if l > 0:
            back = delta @ coefs[l].T
            R_back = R_delta @ coefs[l].T
            if exact:
                R_back += delta @ V_coefs[l].T
                R_delta = R_back * g1[l - 1] + back * g2[l - 1] * R_Z[l - 1]
            else:
                R_delta = R_back * g1[l - 1]
            delta = back * g1[l - 1]


def _hessp(
    curvature,
    theta,
    v,
    X,
    Y,
    layer_sizes,
    activation,
    loss,
    alpha,
    sample_weight,
    chunk_size,
):
    X, Y, sample_weight, dtype = _prepare(X, Y, sample_weight)
    net = _network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size)
    return network_hessp(net, theta, v, X, Y, sample_weight, alpha, curvature)


def hessian_vector_product(
    theta: ArrayLike,
    v: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str = "relu",
    loss: str = "log_loss",
    alpha: float = 0.0,
    sample_weight: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> NDArray:
    """Exact Hessian-vector product ``H v`` of the cost of :func:`cost_grad`.

    Computed by Pearlmutter's R-operator: a forward pass of directional
    derivatives and a backward pass of the same two-step rule, at about the
    cost of one more gradient and without forming ``H``.  The arguments after
    ``v`` are those of :func:`cost_grad`, so it can be handed to
    :func:`scipy.optimize.minimize` as ``hessp`` with the same ``args``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters.
    v : ndarray of shape (n_params,)
        The direction.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows, as in :func:`cost_grad`.
    Y : array-like of shape (n_samples, n_outputs) or (n_samples,)
        Targets in the output's encoding, as in :func:`cost_grad`.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden activation.
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, which fixes the output activation.
    alpha : float, default=0.0
        L2 penalty on the weights.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows; their sum must be positive.
    chunk_size : int, default=None
        Rows per block of the accumulation.

    Returns
    -------
    Hv : ndarray of shape (n_params,)
        ``H v``, regularization term ``alpha V(l) / S`` included.

    See Also
    --------
    gauss_newton_vector_product : The positive semi-definite Gauss-Newton
        variant.

    Notes
    -----
    For ReLU the second derivative is taken as zero (the Hessian of the
    piecewise-linear network away from its kinks).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> from skbackprop import cost_grad, hessian_vector_product, init_params
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> sizes = (3, 4, 1)
    >>> args = (X, y, sizes, "tanh", "squared_error", 1e-3)
    >>> res = minimize(cost_grad, init_params(sizes, random_state=0), args=args,
    ...                jac=True, hessp=hessian_vector_product, method="trust-ncg")
    >>> bool(res.fun < 0.1)
    True
    """
    return _hessp(
        "exact",
        theta,
        v,
        X,
        Y,
        layer_sizes,
        activation,
        loss,
        alpha,
        sample_weight,
        chunk_size,
    )


def gauss_newton_vector_product(
    theta: ArrayLike,
    v: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str = "relu",
    loss: str = "log_loss",
    alpha: float = 0.0,
    sample_weight: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> NDArray:
    """Gauss-Newton-vector product ``G v`` of the cost of :func:`cost_grad`.

    ``G = (1/S) sum_i s_i J_i' H_i J_i + alpha/S`` on the weights, where
    ``J_i`` is the Jacobian of the output pre-activations with respect to
    the parameters and ``H_i`` the loss's Hessian in them (Schraudolph 2002;
    Martens 2010).  It is positive semi-definite, which often suits
    Newton-type solvers better than the exact Hessian on non-convex losses.
    Same arguments as :func:`hessian_vector_product`.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters.
    v : ndarray of shape (n_params,)
        The direction.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows, as in :func:`cost_grad`.
    Y : array-like of shape (n_samples, n_outputs) or (n_samples,)
        Targets in the output's encoding, as in :func:`cost_grad`.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden activation.
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, which fixes the output activation.
    alpha : float, default=0.0
        L2 penalty on the weights.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows; their sum must be positive.
    chunk_size : int, default=None
        Rows per block of the accumulation.

    Returns
    -------
    Gv : ndarray of shape (n_params,)
        ``G v``.

    See Also
    --------
    hessian_vector_product : The exact Hessian product.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import gauss_newton_vector_product, init_params
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(20, 3)), np.eye(2)[rng.integers(0, 2, 20)]
    >>> theta, v = init_params((3, 4, 2), random_state=0), rng.normal(size=26)
    >>> bool(v @ gauss_newton_vector_product(theta, v, X, Y, (3, 4, 2)) >= 0)
    True
    """
    return _hessp(
        "gauss-newton",
        theta,
        v,
        X,
        Y,
        layer_sizes,
        activation,
        loss,
        alpha,
        sample_weight,
        chunk_size,
    )
