"""The engine's public functions: cost, gradient, curvature products, outputs.

Each validates its arguments, builds a :class:`~skbackprop._engine.network.Network`
and evaluates it; the estimators build one network per fit instead.
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skbackprop._engine import threads
from skbackprop._engine.arguments import (
    check_targets,
    check_vector,
    network_for,
    penalty,
    prepare,
    real,
)
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import network_hessp

# The parameters shared by the public functions of the engine, written once
# (the docstrings say ``{activation}`` and ``{alpha}`` where they go).
PARAMETERS = {
    "{activation}": """\
activation : str or sequence of str, default="relu"
        Hidden activation: ``"relu"``, ``"tanh"``, ``"logistic"``,
        ``"identity"``, ``"leaky_relu"``, ``"softplus"``, ``"elu"``,
        ``"gelu"`` or ``"silu"`` (see :class:`BackpropClassifier`), or one
        per hidden layer.""",
    "{alpha}": """\
alpha : float or ndarray of shape (n_coefs,), default=0.0
        L2 penalty on the weights (``lambda`` in the literature), or one
        per weight (``n_coefs`` of them, the weights at the start of
        ``theta``), taken entry by entry.""",
}


def shared_parameters(func):
    """Put the :data:`PARAMETERS` into ``func``'s docstring (none under
    ``python -OO``)."""
    if func.__doc__:
        for placeholder, text in PARAMETERS.items():
            func.__doc__ = func.__doc__.replace(placeholder, text)
    return func


@shared_parameters
def cost_grad(
    theta: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    loss: str = "log_loss",
    alpha: float | ArrayLike = 0.0,
    sample_weight: ArrayLike | None = None,
    chunk_size: int | None = None,
) -> tuple[float, NDArray]:
    """Cost ``J`` and regularized batch gradient ``D`` of a feed-forward network.

    Backpropagation (Rumelhart, Hinton & Williams 1986) over the whole batch,
    as one matrix rule per layer: a forward cascade ``Z(l) = A(l-1) W(l) + b(l)``,
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
    {activation}
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, paired with the output activation softmax, logistic, identity
        or exp respectively.
    {alpha}
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
    real(theta=theta)
    X, Y, sample_weight, dtype = prepare(X, Y, sample_weight)
    net = network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size)
    check_targets(Y, net.loss)
    theta, alpha = check_vector(theta, net), penalty(alpha, net)
    with threads.hold(np.shape(X)[0], net.gradient_work):
        return net.cost_grad(theta, X, Y, sample_weight, alpha)


@shared_parameters
def predict_network(
    theta: ArrayLike,
    X: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
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
    {activation}
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
    real(theta=theta)
    rows, _, _, dtype = prepare(X, np.zeros((np.shape(X)[0], 1)), None)
    net = Network(layer_sizes, activation, loss, dtype=dtype)
    if net.layer_sizes[0] != rows.shape[1]:
        raise ValueError(
            f"X has {rows.shape[1]} features, but layer_sizes expects "
            f"{net.layer_sizes[0]}."
        )
    return net.forward(check_vector(theta, net), rows)


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
    real(theta=theta, v=v)
    X, Y, sample_weight, dtype = prepare(X, Y, sample_weight)
    net = network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size)
    check_targets(Y, net.loss)
    theta, v = check_vector(theta, net), check_vector(v, net, "v")
    alpha = penalty(alpha, net)
    with threads.hold(np.shape(X)[0], net.gradient_work):
        return network_hessp(net, theta, v, X, Y, sample_weight, alpha, curvature)


@shared_parameters
def hessian_vector_product(
    theta: ArrayLike,
    v: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    loss: str = "log_loss",
    alpha: float | ArrayLike = 0.0,
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
    {activation}
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, which fixes the output activation.
    {alpha}
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
    For ReLU and leaky ReLU the second derivative is taken as zero (the
    Hessian of the piecewise-linear network away from its kinks), and for
    ELU as ``e^z`` for ``z <= 0`` and 0 otherwise.

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


@shared_parameters
def gauss_newton_vector_product(
    theta: ArrayLike,
    v: ArrayLike,
    X: ArrayLike,
    Y: ArrayLike,
    layer_sizes: Sequence[int],
    activation: str | Sequence[str] = "relu",
    loss: str = "log_loss",
    alpha: float | ArrayLike = 0.0,
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
    {activation}
    loss : {"log_loss", "binary_log_loss", "squared_error", "poisson"}, \
            default="log_loss"
        Loss, which fixes the output activation.
    {alpha}
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
