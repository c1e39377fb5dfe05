"""The public functions of the logits' Jacobian and the Gauss-Newton matrix.

In the style of :func:`~skbackprop.cost_grad`: flat parameters, the data,
and the network's structure; each validates its arguments, builds a
:class:`~skbackprop._engine.network.Network` and evaluates it with
:mod:`~skbackprop._engine.jacobian`.
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skbackprop._engine.arguments import (
    check_targets,
    check_vector,
    network_for,
    penalty,
    prepare,
    real,
)
from skbackprop._engine.functional import shared_parameters
from skbackprop._engine.gauss_newton import network_gauss_newton
from skbackprop._engine.jacobian import network_jacobian, network_jvp, network_vjp


def _linear_setup(theta, X, layer_sizes, activation, chunk_size, U=None):
    """The network, validated ``theta``, ``X`` and ``U``; the loss plays no part."""
    real(theta=theta)
    n_out = int(layer_sizes[-1]) if len(layer_sizes) else 0
    Y = np.zeros((np.shape(X)[0], n_out)) if U is None else U
    X, U, _, dtype = prepare(X, Y, None, y_name="U")
    net = network_for(
        X, U, layer_sizes, activation, "squared_error", dtype, chunk_size, "U"
    )
    return net, check_vector(theta, net), X, U


@shared_parameters
def jacobian_vector_product(
    theta: ArrayLike,
    v: ArrayLike,
    X: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    chunk_size: int | None = None,
) -> NDArray:
    """``J v``: the Jacobian of the network's logits times a direction.

    ``J_i = dZ_i(L) / dtheta`` is the Jacobian of row ``i``'s output
    pre-activations (the logits, before the output activation) with respect
    to the flat parameters.  ``J v`` is their directional derivative
    ``R{Z(L)}`` along ``v``, computed by the forward R-operator (Pearlmutter
    1994) in one forward pass::

        R{Z(l)} = R{A(l-1)} W(l) + A(l-1) V(l) + Vb(l),   R{A(l)} = g'(Z(l)) R{Z(l)}

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters, laid out as by :func:`pack_params`.
    v : ndarray of shape (n_params,)
        The direction, laid out as ``theta``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    {activation}
    chunk_size : int, default=None
        Rows per block.

    Returns
    -------
    Jv : ndarray of shape (n_samples, n_outputs)
        Row ``i`` holds ``J_i v``.

    See Also
    --------
    jacobian_transpose_vector_product : ``J' u`` by backpropagation.
    output_jacobian : The dense Jacobian.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import init_params, jacobian_vector_product, predict_network
    >>> X, sizes = np.random.default_rng(0).normal(size=(5, 3)), (3, 4, 1)
    >>> theta, v = init_params(sizes, random_state=0), np.ones(21)
    >>> Jv = jacobian_vector_product(theta, v, X, sizes, "tanh")
    >>> def Z(t):
    ...     return predict_network(t, X, sizes, "tanh", "squared_error")
    >>> fd = (Z(theta + 1e-6 * v) - Z(theta - 1e-6 * v)) / 2e-6
    >>> bool(np.allclose(Jv, fd))
    True
    """
    net, th, rows, _ = _linear_setup(theta, X, layer_sizes, activation, chunk_size)
    return network_jvp(net, th, check_vector(v, net, "v"), rows)


@shared_parameters
def jacobian_transpose_vector_product(
    theta: ArrayLike,
    U: ArrayLike,
    X: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    chunk_size: int | None = None,
) -> NDArray:
    """``J' u = sum_i J_i' u_i``: the logits' transposed Jacobian times ``u``.

    Backpropagation (Rumelhart, Hinton & Williams 1986) of the output signal
    ``d(L) = U``: ``d(l) = (d(l+1) W(l+1)') .* g'(Z(l))``, then
    ``(J' u)(l) = A(l-1)' d(l)`` and the biases' ``sum_i d_i(l)``.  With
    ``U = A(L) - Y`` (times the sample weights, divided by their sum) it is
    the data part of the gradient ``D``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters.
    U : array-like of shape (n_samples, n_outputs) or (n_samples,)
        One output signal per row.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    {activation}
    chunk_size : int, default=None
        Rows per block.

    Returns
    -------
    JtU : ndarray of shape (n_params,)
        ``J' u``, laid out as ``theta``.

    See Also
    --------
    jacobian_vector_product : ``J v`` by the forward R-operator.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import (init_params, jacobian_transpose_vector_product,
    ...                         jacobian_vector_product)
    >>> rng = np.random.default_rng(0)
    >>> X, sizes = rng.normal(size=(5, 3)), (3, 4, 2)
    >>> theta = init_params(sizes, random_state=0)
    >>> v, U = rng.normal(size=26), rng.normal(size=(5, 2))
    >>> lhs = np.sum(U * jacobian_vector_product(theta, v, X, sizes))
    >>> rhs = v @ jacobian_transpose_vector_product(theta, U, X, sizes)
    >>> bool(np.isclose(lhs, rhs))
    True
    """
    net, th, rows, signal = _linear_setup(
        theta, X, layer_sizes, activation, chunk_size, U
    )
    return network_vjp(net, th, signal, rows)


@shared_parameters
def output_jacobian(
    theta: ArrayLike,
    X: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    chunk_size: int | None = None,
) -> NDArray:
    """The dense Jacobian ``J_i = dZ_i(L) / dtheta`` of every row's logits.

    Built block by block by the backward two-step rule run once per output
    unit (``d(L) = e_k``) without summing over rows: the weight block of row
    ``i`` is the outer product ``A_i(l-1) d_i(l)'``.  That is ``n_outputs``
    backward passes per block, far cheaper than ``n_params`` forward
    R-operator passes for small output layers.  The result has
    ``n_samples * n_outputs * n_params`` elements: for small networks.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows.
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    {activation}
    chunk_size : int, default=None
        Bounds the rows per block (which also adapt to the network's size).

    Returns
    -------
    Jac : ndarray of shape (n_samples, n_outputs, n_params)
        ``Jac[i]`` is ``J_i``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import init_params, jacobian_vector_product, output_jacobian
    >>> rng = np.random.default_rng(0)
    >>> X, sizes = rng.normal(size=(5, 3)), (3, 4, 2)
    >>> theta, v = init_params(sizes, random_state=0), rng.normal(size=26)
    >>> Jac = output_jacobian(theta, X, sizes, "tanh")
    >>> Jac.shape
    (5, 2, 26)
    >>> bool(np.allclose(Jac @ v, jacobian_vector_product(theta, v, X, sizes, "tanh")))
    True
    """
    net, th, rows, _ = _linear_setup(theta, X, layer_sizes, activation, chunk_size)
    return network_jacobian(net, th, rows)


@shared_parameters
def gauss_newton_matrix(
    theta: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    loss: str = "log_loss",
    alpha: float | ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> NDArray:
    """The dense Gauss-Newton matrix ``G`` of the cost of :func:`cost_grad`.

    ``G = (1/S) sum_i s_i J_i' H_i J_i + (alpha / S) I_W``, where ``J_i`` is
    the Jacobian of row ``i``'s logits (:func:`output_jacobian`), ``H_i`` the
    loss's Hessian in them (``I`` for squared error, ``p(1-p)`` for binary
    log-loss, ``diag(p) - p p'`` for log-loss, ``exp(z)`` for Poisson) and
    ``I_W`` the identity on the weights (biases are not penalized).  It is
    the matrix whose products :func:`gauss_newton_vector_product` computes
    (Schraudolph 2002), and the one Levenberg-Marquardt damps
    (``solver="lm"``).  Accumulated block by block over rows: the memory is
    ``O(n_params^2)`` plus one block's Jacobian, whatever ``n_samples``.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        Flat parameters.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input rows, as in :func:`cost_grad`.
    Y : array-like of shape (n_samples, n_outputs) or (n_samples,)
        Targets in the output's encoding, as in :func:`cost_grad`.  ``G``
        does not depend on them for these matched output/loss pairs (the
        pass that accumulates ``G`` computes ``J`` and ``D`` too).
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    {activation}
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, which fixes the output activation and ``H_i``.
    {alpha}
    sample_weight : array-like of shape (n_samples,), default=None
        Weights ``s`` of the rows; their sum must be positive.
    chunk_size : int, default=None
        Bounds the rows per block.

    Returns
    -------
    G : ndarray of shape (n_params, n_params)
        Symmetric positive semi-definite (definite on the weights when
        ``alpha > 0``).

    See Also
    --------
    gauss_newton_vector_product : ``G v`` without forming ``G``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import gauss_newton_matrix, gauss_newton_vector_product
    >>> from skbackprop import init_params
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(20, 3)), np.eye(2)[rng.integers(0, 2, 20)]
    >>> theta, v = init_params((3, 4, 2), random_state=0), rng.normal(size=26)
    >>> G = gauss_newton_matrix(theta, X, Y, (3, 4, 2), "tanh", "log_loss", 0.1)
    >>> Gv = gauss_newton_vector_product(theta, v, X, Y, (3, 4, 2), "tanh",
    ...                                  "log_loss", 0.1)
    >>> bool(np.allclose(G @ v, Gv))
    True
    """
    real(theta=theta)
    X, Y, sample_weight, dtype = prepare(X, Y, sample_weight)
    net = network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size)
    check_targets(Y, net.loss)
    theta, alpha = check_vector(theta, net), penalty(alpha, net)
    return network_gauss_newton(net, theta, X, Y, sample_weight, alpha)[2]
