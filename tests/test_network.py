"""Tests of the engine: cost_grad, the flat parameter layout, initialization."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import erf, expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skbackprop import (
    check_gradient,
    cost_grad,
    init_params,
    n_params,
    pack_params,
    predict_network,
    unpack_params,
)

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
NEW_ACTIVATIONS = ["leaky_relu", "softplus", "elu", "gelu", "silu"]
LOSSES = ["log_loss", "binary_log_loss", "squared_error", "poisson"]
HIDDEN = [(), (4,), (3, 4), (4, 3, 3)]  # depth 0 to 3
# The hidden activation is moot without a hidden layer: check depth 0 once.
ACTIVATION_HIDDEN = [
    (activation, hidden)
    for hidden in HIDDEN
    for activation in (ACTIVATIONS if hidden else ["identity"])
]


def _sizes(X, Y, hidden):
    return (X.shape[1], *hidden, Y.shape[1])


def _weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.0, 3.0, n)


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))


# -- finite differences --------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.0, 1.5])
@pytest.mark.parametrize(
    "activation, hidden",
    ACTIVATION_HIDDEN,
    ids=[f"{a}-depth{len(h)}" for a, h in ACTIVATION_HIDDEN],
)
@pytest.mark.parametrize("loss", LOSSES)
def test_cost_grad_finite_differences(
    make_theta, make_problem, loss, activation, hidden, alpha, weighted, sparse
):
    X, Y = make_problem(loss, n_samples=20, n_features=3, sparse=sparse)
    sizes = _sizes(X, Y, hidden)
    sw = _weights(X.shape[0]) if weighted else None
    theta = make_theta(X, sizes, activation)
    args = (X, Y, sizes, activation, loss, alpha, sw)
    assert check_gradient(cost_grad, theta, args) <= 1e-7


# The newer activations, one per hidden layer among the classic ones, and
# GELU/SiLU (which keep Z) next to invertible ones: weighted, penalized.
MIXED = [("gelu", "tanh"), ("relu", "silu"), ("softplus", "elu", "leaky_relu")]
NEW_CASES = [(a, h) for a in NEW_ACTIVATIONS for h in [(4,), (4, 3, 3)]] + [
    (a, (4, 3, 3)[: len(a)]) for a in MIXED
]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "activation, hidden", NEW_CASES, ids=[f"{a}-depth{len(h)}" for a, h in NEW_CASES]
)
@pytest.mark.parametrize("loss", LOSSES)
def test_new_activations_finite_differences(
    make_theta, make_problem, loss, activation, hidden, sparse
):
    X, Y = make_problem(loss, n_samples=20, n_features=3, sparse=sparse)
    sizes = _sizes(X, Y, hidden)
    theta = make_theta(X, sizes, activation)
    args = (X, Y, sizes, activation, loss, 1.5, _weights(X.shape[0]))
    assert check_gradient(cost_grad, theta, args) <= 1e-7


# -- seed 001, literally -------------------------------------------------------

_G = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "logistic": (expit, lambda z: expit(z) * (1 - expit(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    # Written out from their definitions, independently of the engine, in
    # forms that neither overflow nor lose the tails at large |z|.
    "leaky_relu": (
        lambda z: np.where(z > 0, z, 0.01 * z),
        lambda z: np.where(z > 0, 1.0, 0.01),
    ),
    "softplus": (lambda z: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))), expit),
    "elu": (
        lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))),
    ),
    "gelu": (
        lambda z: z * (1 + erf(z / np.sqrt(2))) / 2,
        lambda z: (
            (1 + erf(z / np.sqrt(2))) / 2 + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
        ),
    ),
    "silu": (lambda z: z * expit(z), lambda z: expit(z) * (1 + z * expit(-z))),
}


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


# Output activation and the loss of one example, from the probabilities/means a.
_OUT = {
    "log_loss": (_softmax, lambda a, y: -np.sum(y * np.log(a))),
    "binary_log_loss": (
        expit,
        lambda a, y: -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)),
    ),
    "squared_error": (lambda z: z, lambda a, y: 0.5 * np.sum((a - y) ** 2)),
    "poisson": (
        np.exp,
        lambda a, y: np.sum(a - y + y * np.log(np.where(y > 0, y, 1.0) / a)),
    ),
}


def seed001_cost_grad(theta, X, Y, sizes, activation, loss, lam, s=None):
    """Seed 001, one example at a time, with ``Theta(l) = [b(l) | W(l)']``.

    ``a(l)`` are column vectors with the bias unit 1 prepended, ``z(l+1) =
    Theta(l) a(l)``, ``d(L) = a(L) - y``, ``d(l) = (Theta(l)' d(l+1)) .* g'(z(l))``
    (bias row dropped), ``Delta(l) += s_t d(l+1) a(l)'`` and
    ``D(l) = (Delta(l) + lambda Theta(l)) / S`` with the bias column unregularized.
    """
    coefs, intercepts = unpack_params(theta, sizes)
    Theta = [np.column_stack([b, W.T]) for W, b in zip(coefs, intercepts, strict=True)]
    L = len(Theta)
    # One name for all hidden layers, or one per hidden layer.
    names = [activation] * (L - 1) if isinstance(activation, str) else activation
    out, row_loss = _OUT[loss]
    m = X.shape[0]
    s = np.ones(m) if s is None else s
    Delta = [np.zeros_like(T) for T in Theta]
    J = 0.0
    for t in range(m):
        a, z = [X[t]], [None]
        for l in range(L):
            z.append(Theta[l] @ np.concatenate(([1.0], a[l])))
            a.append(_G[names[l]][0](z[l + 1]) if l < L - 1 else out(z[l + 1]))
        J += s[t] * row_loss(a[L], Y[t])
        d = [None] * (L + 1)
        d[L] = a[L] - Y[t]
        for l in range(L - 1, 0, -1):
            d[l] = (Theta[l].T @ d[l + 1])[1:] * _G[names[l - 1]][1](z[l])
        for l in range(L):
            Delta[l] += s[t] * np.outer(d[l + 1], np.concatenate(([1.0], a[l])))
    S = s.sum()
    D = []
    for T, De in zip(Theta, Delta, strict=True):
        reg = lam * T
        reg[:, 0] = 0.0
        D.append((De + reg) / S)
    J = (J + 0.5 * lam * sum(np.sum(T[:, 1:] ** 2) for T in Theta)) / S
    return J, pack_params([Dl[:, 1:].T for Dl in D], [Dl[:, 0] for Dl in D])


# The hidden activation is moot without hidden layers: the new ones at depth 2.
SEED_CASES = (
    [(a, h) for a in ACTIVATIONS for h in [(), (4, 3)]]
    + [(a, (4, 3)) for a in NEW_ACTIVATIONS]
    + [(("gelu", "elu"), (4, 3)), (("relu", "silu"), (4, 3))]
)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    "activation, hidden", SEED_CASES, ids=[f"{a}-depth{len(h)}" for a, h in SEED_CASES]
)
@pytest.mark.parametrize("loss", LOSSES)
def test_cost_grad_equals_seed001(
    make_theta, make_problem, loss, activation, hidden, weighted
):
    X, Y = make_problem(loss)
    sizes = _sizes(X, Y, hidden)
    sw = _weights(X.shape[0]) if weighted else None
    theta = make_theta(X, sizes, activation)
    J, D = cost_grad(theta, X, Y, sizes, activation, loss, 0.7, sw)
    J_ref, D_ref = seed001_cost_grad(theta, X, Y, sizes, activation, loss, 0.7, sw)
    assert J == pytest.approx(J_ref, rel=1e-12)
    np.testing.assert_allclose(D, D_ref, rtol=1e-12, atol=1e-12 * np.abs(D_ref).max())


def test_seed001_reference_detects_a_wrong_gradient(make_theta, make_problem):
    # Guard against a reference that agrees with anything.
    X, Y = make_problem("log_loss")
    sizes = _sizes(X, Y, (4,))
    theta = make_theta(X, sizes, "tanh")
    _, D = cost_grad(theta, X, Y, sizes, "tanh", "log_loss", 0.7)
    _, D_ref = seed001_cost_grad(theta, X, Y, sizes, "logistic", "log_loss", 0.7)
    assert _rel(D, D_ref) > 1e-3


# -- invariances ---------------------------------------------------------------


# ("gelu", "silu"): both layers keep Z(l) in buffers of their own, per block.
@pytest.mark.parametrize("activation", ["tanh", ("gelu", "silu")])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
def test_chunked_equals_unchunked(make_theta, make_problem, loss, sparse, activation):
    X, Y = make_problem(loss, n_samples=30, sparse=sparse)
    sizes = _sizes(X, Y, (5, 3))
    sw = _weights(X.shape[0])
    theta = make_theta(X, sizes, activation)
    args = (X, Y, sizes, activation, loss, 0.3, sw)
    J, D = cost_grad(theta, *args, chunk_size=None)
    for chunk_size in (1, 7, 30, 64):
        J_c, D_c = cost_grad(theta, *args, chunk_size)
        assert J_c == pytest.approx(J, rel=1e-12)
        assert _rel(D_c, D) <= 1e-12


@pytest.mark.parametrize("loss", LOSSES)
def test_float32(make_theta, make_problem, loss):
    X, Y = make_problem(loss, n_samples=30)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    sizes = _sizes(X, Y, (5,))
    theta = make_theta(X, sizes, "tanh").astype(np.float32)
    J32, D32 = cost_grad(theta, X32, Y32, sizes, "tanh", loss, 0.1)
    J64, D64 = cost_grad(
        theta.astype(np.float64),
        X32.astype(np.float64),
        Y32.astype(np.float64),
        sizes,
        "tanh",
        loss,
        0.1,
    )
    assert D32.dtype == np.float32
    assert D64.dtype == np.float64
    assert J32 == pytest.approx(J64, rel=1e-5)
    np.testing.assert_allclose(D32, D64, rtol=1e-4, atol=1e-5 * np.abs(D64).max())
    # float32 data with float64 parameters (as SciPy passes them) stays float32.
    _, D = cost_grad(theta.astype(np.float64), X32, Y32, sizes, "tanh", loss, 0.1)
    assert D.dtype == np.float32


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
def test_new_activations_float32(make_theta, make_problem, activation):
    X, Y = make_problem("log_loss", n_samples=30)
    sizes = _sizes(X, Y, (5, 4))
    theta = make_theta(X, sizes, activation).astype(np.float32)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    J32, D32 = cost_grad(theta, X32, Y32, sizes, activation, "log_loss", 0.1)
    J64, D64 = cost_grad(
        theta.astype(np.float64),
        X32.astype(np.float64),
        Y,
        sizes,
        activation,
        "log_loss",
        0.1,
    )
    assert D32.dtype == np.float32
    assert J32 == pytest.approx(J64, rel=1e-5)
    np.testing.assert_allclose(D32, D64, rtol=1e-4, atol=1e-5 * np.abs(D64).max())


def test_one_name_equals_the_same_name_per_layer(make_theta, make_problem, seed):
    X, Y = make_problem("log_loss")
    sizes = _sizes(X, Y, (4, 3))
    for name in ["tanh", "gelu"]:
        theta = make_theta(X, sizes, name)
        J, D = cost_grad(theta, X, Y, sizes, name, "log_loss", 0.2)
        J_l, D_l = cost_grad(theta, X, Y, sizes, [name, name], "log_loss", 0.2)
        assert J_l == J
        np.testing.assert_array_equal(D_l, D)
        np.testing.assert_array_equal(
            init_params(sizes, [name, name], random_state=seed),
            init_params(sizes, name, random_state=seed),
        )


def test_new_activations_at_extreme_inputs():
    # Pre-activations of +-1e3 and tiny ones: finite values and derivatives,
    # without warnings, equal to the limits g(z) -> z or 0 and g' -> 1 or 0.
    z = np.array([[-1e3, -40.0, -1e-12, 0.0, 1e-12, 40.0, 1e3]])
    sizes = (7, 7, 1)
    W = np.eye(7).ravel()
    theta = np.concatenate([W, np.ones(7), np.zeros(7), [0.0]])  # A(2) = sum g(z)
    for name in NEW_ACTIVATIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            J, D = cost_grad(theta, z, [[0.0]], sizes, name, "squared_error")
        # The hidden layer's output through an identity output layer.
        identity = np.concatenate([W, W, np.zeros(14)])
        g_of_z = predict_network(identity, z, (7, 7, 7), name, "squared_error")
        ref, ref_prime = _G[name][0](z).ravel(), _G[name][1](z).ravel()
        np.testing.assert_allclose(g_of_z.ravel(), ref, rtol=1e-12, atol=1e-300)
        # With the residual r = sum g(z): dJ/dW(2)_k = r g(z_k) and
        # dJ/dW(1)_kk = r g'(z_k) z_k, to rounding of the largest terms.
        coefs, _ = unpack_params(D, sizes)
        r = ref.sum()
        for got, want in [
            (coefs[1].ravel(), r * ref),
            (np.diag(coefs[0]), r * ref_prime * z.ravel()),
        ]:
            np.testing.assert_allclose(
                got, want, rtol=1e-12, atol=1e-14 * np.abs(want).max()
            )


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
def test_integer_sample_weight_equals_repeated_rows(
    make_theta, make_problem, loss, sparse, seed
):
    X, Y = make_problem(loss, sparse=sparse)
    sizes = _sizes(X, Y, (4, 3))
    sw = np.random.default_rng(seed + 2).integers(0, 4, X.shape[0])  # zeros drop rows
    theta = make_theta(X, sizes, "logistic")
    J, D = cost_grad(theta, X, Y, sizes, "logistic", loss, 0.5, sw)
    idx = np.repeat(np.arange(X.shape[0]), sw)
    J_rep, D_rep = cost_grad(theta, X[idx], Y[idx], sizes, "logistic", loss, 0.5)
    assert J == pytest.approx(J_rep, rel=1e-12)
    assert _rel(D, D_rep) <= 1e-12


@pytest.mark.parametrize("loss", LOSSES)
def test_row_permutation_invariance(make_theta, make_problem, loss, seed):
    X, Y = make_problem(loss)
    sizes = _sizes(X, Y, (4, 3))
    sw = _weights(X.shape[0])
    theta = make_theta(X, sizes, "relu")
    perm = np.random.default_rng(seed + 3).permutation(X.shape[0])
    J, D = cost_grad(theta, X, Y, sizes, "relu", loss, 0.5, sw)
    J_p, D_p = cost_grad(theta, X[perm], Y[perm], sizes, "relu", loss, 0.5, sw[perm])
    assert J_p == pytest.approx(J, rel=1e-13)
    assert _rel(D_p, D) <= 1e-13


def test_sparse_equals_dense(make_theta, make_problem):
    X, Y = make_problem("log_loss")
    sizes = _sizes(X, Y, (4,))
    theta = make_theta(X, sizes, "tanh")
    J, D = cost_grad(theta, X, Y, sizes, "tanh")
    for to_sparse in (sp.csr_matrix, sp.csr_array, sp.csc_matrix):
        J_s, D_s = cost_grad(theta, to_sparse(X), Y, sizes, "tanh")
        assert J_s == pytest.approx(J, rel=1e-13)
        assert _rel(D_s, D) <= 1e-13


# -- numerical safety ----------------------------------------------------------


@pytest.mark.parametrize("loss", ["log_loss", "binary_log_loss"])
def test_huge_logits_are_finite_without_warnings(make_theta, make_problem, loss):
    X, Y = make_problem(loss)
    X = X * 1e4
    sizes = _sizes(X, Y, (4,))
    theta = make_theta(X, sizes, "identity")
    logits = predict_network(theta, X, sizes, "identity", "squared_error")
    assert np.abs(logits).max() > 1e3  # saturated outputs: probabilities 0 and 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J, D = cost_grad(theta, X, Y, sizes, "identity", loss, 0.1)
        P = predict_network(theta, X, sizes, "identity", loss)
    assert np.isfinite(J) and J > 100
    assert np.all(np.isfinite(D))
    assert np.all(np.isfinite(P))


# -- parameter layout, initialization, scikit-learn's conventions --------------


def test_unpack_params_views_and_pack_inverse():
    sizes = (4, 5, 3, 2)
    theta = np.arange(n_params(sizes), dtype=np.float64)
    coefs, intercepts = unpack_params(theta, sizes)
    assert [c.shape for c in coefs] == [(4, 5), (5, 3), (3, 2)]
    assert [b.shape for b in intercepts] == [(5,), (3,), (2,)]
    assert all(np.shares_memory(a, theta) for a in coefs + intercepts)
    # Weights first (row-major), then biases: sklearn's _pack layout.
    assert coefs[0][0, 1] == 1.0
    assert intercepts[0][0] == 4 * 5 + 5 * 3 + 3 * 2
    np.testing.assert_array_equal(pack_params(coefs, intercepts), theta)
    coefs[1][...] = -1.0
    assert np.sum(theta == -1.0) == 15
    out = np.empty_like(theta)
    assert pack_params(coefs, intercepts, out=out) is out
    np.testing.assert_array_equal(out, theta)


def test_n_params():
    assert n_params((4, 2)) == 10
    assert n_params((4, 3, 2)) == (4 + 1) * 3 + (3 + 1) * 2


def test_layout_matches_sklearn_mlp(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((5, 3), max_iter=1, random_state=seed).fit(X, y)
    sizes = (4, 5, 3, 3)
    theta = pack_params(clf.coefs_, clf.intercepts_)
    assert theta.size == n_params(sizes)
    coefs, intercepts = unpack_params(theta, sizes)
    for ours, theirs in zip(
        coefs + intercepts, clf.coefs_ + clf.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(
        predict_network(theta, X, sizes, "relu", "log_loss"),
        clf.predict_proba(X),
        rtol=1e-12,
    )


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_init_params_equals_sklearn_initial_weights(activation, seed):
    # SGD with a learning rate of 1e-300 cannot move the weights from
    # scikit-learn's initial draw, so coefs_ after fit are the initial weights.
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    clf = MLPClassifier(
        (5, 3),
        activation=activation,
        solver="sgd",
        learning_rate_init=1e-300,
        max_iter=1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    theta = init_params((4, 5, 3, 3), activation, random_state=seed)
    np.testing.assert_array_equal(theta, pack_params(clf.coefs_, clf.intercepts_))


def test_init_params_per_layer_glorot_factor(seed):
    # Each W(l) takes the factor of the activation it feeds; the output
    # layer that of the last hidden layer.
    sizes = (4, 5, 3, 2)
    rs = np.random.RandomState(seed + 7)
    coefs, intercepts = [], []
    for (n_in, n_out), factor in zip(
        zip(sizes[:-1], sizes[1:], strict=True), [2.0, 6.0, 6.0], strict=True
    ):
        bound = np.sqrt(factor / (n_in + n_out))
        coefs.append(rs.uniform(-bound, bound, (n_in, n_out)))
        intercepts.append(rs.uniform(-bound, bound, n_out))
    theta = init_params(sizes, ["logistic", "gelu"], random_state=seed + 7)
    np.testing.assert_array_equal(theta, pack_params(coefs, intercepts))
    with pytest.raises(ValueError, match="activation has 1 name.s. but the network"):
        init_params(sizes, ["tanh"])
    with pytest.raises(ValueError, match="activation must be one of"):
        init_params(sizes, "swish")


def test_init_params_glorot(seed):
    sizes = (4, 5, 3)
    rs = np.random.RandomState(seed + 7)
    coefs, intercepts = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = np.sqrt(2.0 / (n_in + n_out))  # logistic: factor 2
        coefs.append(rs.uniform(-bound, bound, (n_in, n_out)))
        intercepts.append(rs.uniform(-bound, bound, n_out))
    theta = init_params(sizes, "logistic", random_state=seed + 7)
    np.testing.assert_array_equal(theta, pack_params(coefs, intercepts))
    theta32 = init_params(sizes, "logistic", random_state=seed + 7, dtype=np.float32)
    assert theta32.dtype == np.float32
    np.testing.assert_array_equal(theta32, theta.astype(np.float32))
    assert not np.array_equal(init_params(sizes, "tanh", random_state=seed + 7), theta)


# Narrow layers use a contiguous copy of W' for the hidden signals, wide ones
# (>= 64 columns) the transposed view: both paths, against scikit-learn.
@pytest.mark.parametrize("hidden", [(5, 3), (70, 66)], ids=["narrow", "wide"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_cost_grad_equals_sklearn_loss(make_theta, activation, weighted, hidden, seed):
    # Same cost convention as MLPClassifier: mean loss + alpha/(2 S) ||W||^2.
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 4, 40)
    Y = np.eye(4)[y]
    sw = _weights(40) if weighted else None
    alpha = 0.3
    clf = MLPClassifier(
        hidden,
        activation=activation,
        alpha=alpha,
        solver="lbfgs",
        max_iter=1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.out_activation_ == "softmax"
    sizes = (4, *hidden, 4)
    # No finite differences here: any distance from ReLU's kink will do.
    theta = make_theta(X, sizes, activation, seed=4, margin=0.0)
    n_layers = len(sizes)
    J_sk, D_sk = clf._loss_grad_lbfgs(
        theta.copy(),
        X,
        Y,
        sw,
        [X] + [None] * (n_layers - 1),
        [None] * (n_layers - 1),
        [np.empty((a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)],
        [np.empty(b) for b in sizes[1:]],
    )
    J, D = cost_grad(theta, X, Y, sizes, activation, "log_loss", alpha, sw)
    assert J == pytest.approx(J_sk, rel=1e-10)
    np.testing.assert_allclose(D, D_sk, rtol=1e-10, atol=1e-12)


# -- argument validation -------------------------------------------------------


def test_bad_arguments(make_theta, make_problem):
    X, Y = make_problem("log_loss")
    sizes = _sizes(X, Y, (4,))
    theta = make_theta(X, sizes, "relu")
    with pytest.raises(ValueError, match="theta must be a 1-D array of 35"):
        cost_grad(theta[:-1], X, Y, sizes)
    with pytest.raises(ValueError, match="theta must be a 1-D array"):
        cost_grad(theta.reshape(5, 7), X, Y, sizes)
    with pytest.raises(
        ValueError, match=r"layer_sizes \(4, 4, 3\) do not match X with 3 features"
    ):
        cost_grad(theta, X[:, :3], Y, sizes)
    with pytest.raises(ValueError, match="do not match X .* Y with 3 outputs"):
        cost_grad(init_params((4, 4, 2)), X, Y, (4, 4, 2))
    with pytest.raises(ValueError, match="different numbers of rows"):
        cost_grad(theta, X, Y[:-1], sizes)
    with pytest.raises(ValueError, match="activation must be one of"):
        cost_grad(theta, X, Y, sizes, activation="swish")
    with pytest.raises(ValueError, match="activation must be one of"):
        cost_grad(theta, X, Y, sizes, activation=["tanh", "swish"][1:])
    with pytest.raises(ValueError, match="activation has 2 name.s. but the network"):
        cost_grad(theta, X, Y, sizes, activation=["tanh", "relu"])
    with pytest.raises(ValueError, match="activation must be a name or a sequence"):
        cost_grad(theta, X, Y, sizes, activation=3)
    with pytest.raises(ValueError, match="loss must be one of"):
        cost_grad(theta, X, Y, sizes, loss="hinge")
    with pytest.raises(ValueError, match="positive sum"):
        cost_grad(theta, X, Y, sizes, sample_weight=np.zeros(X.shape[0]))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        cost_grad(theta, X, Y, sizes, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="empty batch"):
        cost_grad(theta, X[:0], Y[:0], sizes)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        cost_grad(theta, X, Y, sizes, chunk_size=0)
    with pytest.raises(ValueError, match="X must be 2-D"):
        cost_grad(theta, X[0], Y[0], sizes)


@pytest.mark.parametrize("sizes", [(4, 0, 3), (4, -2, 3), (4, 2.5, 3), (4,), ()])
def test_bad_layer_sizes(sizes):
    with pytest.raises(ValueError, match="layer_sizes must"):
        n_params(sizes)
    with pytest.raises(ValueError, match="layer_sizes must"):
        init_params(sizes)
    with pytest.raises(ValueError, match="layer_sizes must"):
        cost_grad(np.zeros(10), np.ones((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]], sizes)


def test_bad_pack_arguments():
    with pytest.raises(ValueError, match="non-empty lists of equal length"):
        pack_params([np.ones((2, 3))], [])
    with pytest.raises(ValueError, match="Inconsistent layer shapes"):
        pack_params([np.ones((2, 3)), np.ones((3, 1))], [np.ones(3), np.ones(2)])
    with pytest.raises(ValueError, match="X has 3 features"):
        predict_network(init_params((4, 2)), np.ones((5, 3)), (4, 2))


# -- SciPy without a wrapper ---------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
def test_minimize_lbfgs_reduces_cost(make_problem, loss, seed):
    X, Y = make_problem(loss, n_samples=30)
    sizes = _sizes(X, Y, (5,))
    theta0 = init_params(sizes, "tanh", random_state=seed)
    args = (X, Y, sizes, "tanh", loss, 1e-2)
    J0, _ = cost_grad(theta0, *args)
    res = minimize(
        cost_grad,
        theta0,
        args=args,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 50},
    )
    assert res.fun < 0.9 * J0
    assert res.fun == pytest.approx(cost_grad(res.x, *args)[0])
