"""Tests of the exact Hessian- and Gauss-Newton-vector products."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from skbackprop import (
    cost_grad,
    gauss_newton_vector_product,
    hessian_vector_product,
    init_params,
    n_params,
    pack_params,
    predict_network,
    unpack_params,
)
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import network_hessp

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
NEW_ACTIVATIONS = ["leaky_relu", "softplus", "elu", "gelu", "silu"]
# One activation per hidden layer: Z-keeping GELU/SiLU next to invertible ones.
MIXED = [("gelu", "softplus"), ("elu", "silu")]
LOSSES = ["log_loss", "binary_log_loss", "squared_error", "poisson"]


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))


def _setup(make_problem, make_theta, loss, activation, hidden=(3, 3), **kwargs):
    X, Y = make_problem(loss, n_samples=12, n_features=3, **kwargs)
    sizes = (X.shape[1], *hidden, Y.shape[1])
    theta = make_theta(X, sizes, activation)
    return X, Y, sizes, theta


def _weights(n, weighted):
    return np.random.default_rng(1).uniform(0.0, 3.0, n) if weighted else None


def _unit_vector(n, seed=2):
    v = np.random.default_rng(seed).normal(size=n)
    return v / np.linalg.norm(v)


def _columns(product, theta, args):
    """The matrix whose k-th column is ``product(theta, e_k, *args)``."""
    n = theta.size
    return np.column_stack([product(theta, e, *args) for e in np.eye(n)])


def _fd_grad_along(theta, v, args, h=1e-5):
    """Central differences of ``D`` along ``v``: ``H v`` up to ``O(h^2)``."""
    D_plus = cost_grad(theta + h * v, *args)[1]
    D_minus = cost_grad(theta - h * v, *args)[1]
    return (D_plus - D_minus) / (2 * h)


# -- exact Hessian-vector products ---------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 1.5])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_hessian_vector_product_finite_differences(
    make_problem, make_theta, loss, activation, alpha, weighted, sparse
):
    # ReLU networks: make_theta keeps every pre-activation away from the kinks.
    X, Y, sizes, theta = _setup(
        make_problem, make_theta, loss, activation, sparse=sparse
    )
    args = (X, Y, sizes, activation, loss, alpha, _weights(X.shape[0], weighted))
    v = _unit_vector(theta.size)
    Hv = hessian_vector_product(theta, v, *args)
    assert _rel(Hv, _fd_grad_along(theta, v, args)) <= 1e-6

    # The explicit Hessian: symmetric, linear in v, equal to finite differences
    # of D column by column.
    H = _columns(hessian_vector_product, theta, args)
    scale = np.abs(H).max()
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(H @ v, Hv, rtol=0, atol=1e-12 * scale)
    H_fd = np.column_stack([_fd_grad_along(theta, e, args) for e in np.eye(theta.size)])
    assert _rel(H, H_fd) <= 1e-6


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation", NEW_ACTIVATIONS + MIXED)
@pytest.mark.parametrize("loss", LOSSES)
def test_new_activations_hessian_vector_product(
    make_problem, make_theta, loss, activation, sparse
):
    # g'' enters H v: the exact product against finite differences of D, and
    # the explicit Hessian symmetric.  Weighted and penalized.
    X, Y, sizes, theta = _setup(
        make_problem, make_theta, loss, activation, sparse=sparse
    )
    args = (X, Y, sizes, activation, loss, 0.7, _weights(X.shape[0], True))
    v = _unit_vector(theta.size)
    Hv = hessian_vector_product(theta, v, *args)
    assert _rel(Hv, _fd_grad_along(theta, v, args)) <= 1e-6
    H = _columns(hessian_vector_product, theta, args)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-10 * np.abs(H).max())
    np.testing.assert_allclose(H @ v, Hv, rtol=0, atol=1e-12 * np.abs(H).max())


def test_hessian_vector_product_is_not_the_gauss_newton_product(
    make_problem, make_theta
):
    # With a hidden layer, even a linear network has H != G: the two
    # products must not be interchangeable for the tests above to mean much.
    X, Y, sizes, theta = _setup(make_problem, make_theta, "squared_error", "identity")
    args = (X, Y, sizes, "identity", "squared_error")
    v = _unit_vector(theta.size)
    Hv = hessian_vector_product(theta, v, *args)
    Gv = gauss_newton_vector_product(theta, v, *args)
    assert _rel(Hv, Gv) > 1e-3


# -- Gauss-Newton-vector products ----------------------------------------------


def _gauss_newton_reference(theta, v, X, Y, sizes, activation, loss, alpha, sw):
    """``G v = (1/S) (J' diag(s) H_out J v + alpha v_W)``, without the R-operator.

    ``J v`` by central differences of the logits, ``H_out`` the loss's Hessian
    in the logits written out, and ``J' U`` as ``m`` times the gradient of the
    squared error at the targets ``Z - U`` (whose output signal is ``U``).
    """
    m = X.shape[0]
    s = np.ones(m) if sw is None else sw

    def logits(t):
        return predict_network(t, X, sizes, activation, "squared_error")

    h = 1e-5
    Z = logits(theta)
    JV = (logits(theta + h * v) - logits(theta - h * v)) / (2 * h)
    A = predict_network(theta, X, sizes, activation, loss)
    if loss == "log_loss":
        HJV = A * JV - A * np.sum(A * JV, axis=1, keepdims=True)
    elif loss == "binary_log_loss":
        HJV = A * (1 - A) * JV
    elif loss == "squared_error":
        HJV = JV
    else:
        HJV = A * JV
    U = s[:, None] * HJV
    _, D = cost_grad(theta, X, Z - U, sizes, activation, "squared_error")
    coefs, intercepts = unpack_params(np.ones_like(theta), sizes)
    is_weight = pack_params(coefs, [np.zeros_like(b) for b in intercepts]) == 1
    return (m * D + alpha * is_weight * v) / s.sum()


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("activation", ACTIVATIONS + NEW_ACTIVATIONS + MIXED)
@pytest.mark.parametrize("loss", LOSSES)
def test_gauss_newton_vector_product(
    make_problem, make_theta, loss, activation, weighted, sparse
):
    X, Y, sizes, theta = _setup(
        make_problem, make_theta, loss, activation, sparse=sparse
    )
    sw = _weights(X.shape[0], weighted)
    args = (X, Y, sizes, activation, loss, 0.7, sw)
    v = _unit_vector(theta.size)
    Gv = gauss_newton_vector_product(theta, v, *args)
    assert _rel(Gv, _gauss_newton_reference(theta, v, *args)) <= 1e-6

    # The explicit G (without the penalty): symmetric positive semi-definite.
    G = _columns(gauss_newton_vector_product, theta, args[:-2] + (0.0, sw))
    scale = np.abs(G).max()
    np.testing.assert_allclose(G, G.T, rtol=0, atol=1e-12 * scale)
    eigenvalues = np.linalg.eigvalsh((G + G.T) / 2)
    assert eigenvalues.min() >= -1e-10 * eigenvalues.max()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss", LOSSES)
def test_gauss_newton_equals_hessian_without_hidden_layer(
    make_problem, make_theta, loss, weighted
):
    # Z = X W + b is linear in the parameters, so H = J' H_out J = G exactly;
    # the identity/squared-error case is ordinary least squares.
    X, Y, sizes, theta = _setup(make_problem, make_theta, loss, "identity", hidden=())
    args = (X, Y, sizes, "identity", loss, 0.7, _weights(X.shape[0], weighted))
    H = _columns(hessian_vector_product, theta, args)
    G = _columns(gauss_newton_vector_product, theta, args)
    np.testing.assert_allclose(G, H, rtol=0, atol=1e-14 * np.abs(H).max())
    if loss == "squared_error" and not weighted:
        X1 = np.column_stack([X, np.ones(X.shape[0])])
        XtX = X1.T @ X1 / X.shape[0]
        # Per output k: d^2 J / dW_jk dW_ik = (X1' X1)_ij / m, plus alpha / m.
        np.testing.assert_allclose(H[0, 0], XtX[0, 0] + 0.7 / X.shape[0], rtol=1e-12)


# -- chunking, dtypes, arguments -----------------------------------------------


@pytest.mark.parametrize(
    "product", [hessian_vector_product, gauss_newton_vector_product]
)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
def test_chunked_equals_unchunked(make_problem, make_theta, product, loss, sparse):
    X, Y, sizes, theta = _setup(make_problem, make_theta, loss, "tanh", sparse=sparse)
    sw = _weights(X.shape[0], True)
    v = _unit_vector(theta.size)
    ref = product(theta, v, X, Y, sizes, "tanh", loss, 0.3, sw, None)
    for chunk_size in (1, 5, 12):
        Hv = product(theta, v, X, Y, sizes, "tanh", loss, 0.3, sw, chunk_size)
        assert _rel(Hv, ref) <= 1e-12


@pytest.mark.parametrize(
    "product", [hessian_vector_product, gauss_newton_vector_product]
)
@pytest.mark.parametrize("loss", LOSSES)
def test_float32(make_problem, make_theta, product, loss):
    X, Y, sizes, theta = _setup(make_problem, make_theta, loss, "tanh")
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    theta = theta.astype(np.float32).astype(np.float64)
    v = _unit_vector(theta.size).astype(np.float32).astype(np.float64)
    Hv32 = product(theta, v, X32, Y32, sizes, "tanh", loss, 0.1)
    Hv64 = product(
        theta,
        v,
        X32.astype(np.float64),
        Y32.astype(np.float64),
        sizes,
        "tanh",
        loss,
        0.1,
    )
    assert Hv32.dtype == np.float32
    assert Hv64.dtype == np.float64
    assert _rel(Hv32.astype(np.float64), Hv64) <= 1e-4


def test_bad_arguments(make_problem, seed):
    X, Y = make_problem("log_loss")
    sizes = (X.shape[1], 3, Y.shape[1])
    theta = init_params(sizes, random_state=seed)
    for product in (hessian_vector_product, gauss_newton_vector_product):
        with pytest.raises(ValueError, match="v must have shape"):
            product(theta, theta[:-1], X, Y, sizes)
        with pytest.raises(ValueError, match="theta must be a 1-D array"):
            product(theta[:-1], theta[:-1], X, Y, sizes)
        with pytest.raises(ValueError, match="positive sum"):
            product(theta, theta, X, Y, sizes, sample_weight=np.zeros(X.shape[0]))
        with pytest.raises(ValueError, match="empty batch"):
            product(theta, theta, X[:0], Y[:0], sizes)
        with pytest.raises(ValueError, match="do not match"):
            product(theta, theta, X[:, :-1], Y, sizes)
        with pytest.raises(ValueError, match="activation must be one of"):
            product(theta, theta, X, Y, sizes, activation="swish")
        with pytest.raises(ValueError, match="activation has 2 name"):
            product(theta, theta, X, Y, sizes, activation=("elu", "gelu"))
        with pytest.raises(ValueError, match="chunk_size must be"):
            product(theta, theta, X, Y, sizes, chunk_size=0)
    net = Network(sizes, "tanh", "log_loss")
    with pytest.raises(ValueError, match="curvature must be one of"):
        network_hessp(net, theta, theta, X, Y, curvature="diagonal")
    assert n_params(sizes) == theta.size


@pytest.mark.parametrize("loss", ["log_loss", "binary_log_loss"])
def test_huge_logits_are_finite_without_warnings(make_problem, make_theta, loss):
    X, Y, sizes, theta = _setup(make_problem, make_theta, loss, "identity")
    X = X * 1e4  # logits of order 1e4: saturated probabilities
    v = _unit_vector(theta.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Hv = hessian_vector_product(theta, v, X, Y, sizes, "identity", loss)
        Gv = gauss_newton_vector_product(theta, v, X, Y, sizes, "identity", loss)
    assert np.all(np.isfinite(Hv)) and np.all(np.isfinite(Gv))


# -- Newton-type solvers -------------------------------------------------------


@pytest.mark.parametrize(
    "method, hessp",
    [
        ("trust-ncg", hessian_vector_product),
        ("Newton-CG", gauss_newton_vector_product),
        ("trust-krylov", gauss_newton_vector_product),
    ],
)
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_minimize_with_hessp(make_problem, method, hessp, loss, seed):
    X, Y = make_problem(loss, n_samples=30)
    sizes = (X.shape[1], 4, Y.shape[1])
    theta0 = init_params(sizes, "tanh", random_state=seed)
    args = (X, Y, sizes, "tanh", loss, 1e-2)
    J0, _ = cost_grad(theta0, *args)
    res = minimize(
        cost_grad,
        theta0,
        args=args,
        jac=True,
        hessp=hessp,
        method=method,
        options={"maxiter": 30},
    )
    assert res.fun < 0.9 * J0
    assert res.fun == pytest.approx(cost_grad(res.x, *args)[0])
