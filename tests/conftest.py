"""Shared fixtures: small random problems for every loss of the engine.

The rounding the tests run under can be perturbed, the way another CPU's
BLAS kernels perturb it, through three environment variables (``.ci/run``
sets them for its second pass; unset, the suite runs as documented):

``SKBACKPROP_TEST_SEED``
    The seed of the test data and of the initial weights, through the
    :func:`seed` fixture and the factories below: an integer (default 0), or
    a range ``"A-B"`` that runs every seeded test once per seed.
``SKBACKPROP_TEST_CHUNK_SIZE``
    Rows per block of every network built without an explicit
    ``chunk_size`` (default: the package's size, which makes most test
    problems one block).  A few rows change the order of every sum over
    rows.
``SKBACKPROP_TEST_BLAS_THREADS``
    BLAS threads of each test process (default: one per pytest-xdist
    worker, the user's setting without xdist).

An assertion must hold under any of them: it states what the method
guarantees, with a tolerance taken from the problem (dtype, solver
tolerance, conditioning), never one machine's last digits.
"""

import os

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from skbackprop import init_params, unpack_params
from skbackprop._engine import network
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS, check_activations


def _seeds(text):
    """``"3"`` -> ``[3]``; ``"0-4"`` -> ``[0, 1, 2, 3, 4]``."""
    lo, _, hi = text.strip().partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


SEEDS = _seeds(os.environ.get("SKBACKPROP_TEST_SEED") or "0")

if os.environ.get("SKBACKPROP_TEST_CHUNK_SIZE"):
    network.DEFAULT_CHUNK_SIZE = int(os.environ["SKBACKPROP_TEST_CHUNK_SIZE"])

if os.environ.get("SKBACKPROP_TEST_BLAS_THREADS"):
    threadpool_limits(int(os.environ["SKBACKPROP_TEST_BLAS_THREADS"]))
elif os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist every worker is a process of its own: one BLAS
    # thread each keeps the workers from oversubscribing the cores (the
    # tests' matrices are small).
    threadpool_limits(1)


def pytest_generate_tests(metafunc):
    # A range of seeds runs each test that uses one once per seed.
    if "seed" in metafunc.fixturenames and len(SEEDS) > 1:
        metafunc.parametrize("seed", SEEDS)


def pytest_report_header(config):
    perturbed = [
        f"{name}={os.environ[name]}"
        for name in (
            "SKBACKPROP_TEST_SEED",
            "SKBACKPROP_TEST_CHUNK_SIZE",
            "SKBACKPROP_TEST_BLAS_THREADS",
        )
        if os.environ.get(name)
    ]
    return "skbackprop rounding: " + (", ".join(perturbed) or "default")


@pytest.fixture
def seed():
    """The seed of a test's random data and initial weights (default 0).

    Set by ``SKBACKPROP_TEST_SEED`` (see the module docstring); tests derive
    every seed they need from it (``seed``, ``seed + 1``, ...), so that the
    perturbed pass of ``.ci/run`` runs them on other data and weights.
    """
    return SEEDS[0]


# Outputs per loss, in the target encoding ``cost_grad`` expects.
N_OUTPUTS = {"log_loss": 3, "binary_log_loss": 2, "squared_error": 2, "poisson": 2}


def _make_problem(loss, n_samples=25, n_features=4, sparse=False, seed=0):
    """``X`` (half zeros, dense or CSR) and targets ``Y`` encoded for ``loss``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    X[rng.random(X.shape) < 0.5] = 0.0
    n_outputs = N_OUTPUTS[loss]
    if loss == "log_loss":
        Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif loss == "binary_log_loss":
        Y = rng.integers(0, 2, (n_samples, n_outputs)).astype(np.float64)
    elif loss == "squared_error":
        Y = rng.normal(size=(n_samples, n_outputs))
    else:
        Y = rng.poisson(1.5, (n_samples, n_outputs)).astype(np.float64)
    return (sp.csr_matrix(X) if sparse else X), Y


def _offset(factory, by):
    """``factory`` with its ``seed`` argument counted from ``by``."""

    def shifted(*args, seed=0, **kwargs):
        return factory(*args, seed=by + seed, **kwargs)

    return shifted


@pytest.fixture
def make_problem(seed):
    """Factory ``make_problem(loss, n_samples=25, n_features=4, sparse=False,
    seed=0) -> (X, Y)``; its ``seed`` counts from the :func:`seed` fixture's."""
    return _offset(_make_problem, seed)


# Activations with a kink at z = 0: in g' (ReLU, leaky ReLU) or in g'' (ELU).
KINKED = {"relu", "leaky_relu", "elu"}


def _kink_margin(theta, X, sizes, activation):
    """Smallest ``|z|`` over the pre-activations of the hidden layers whose
    activation (a name, or one per hidden layer) is kinked at 0; inf if none."""
    names = check_activations(activation, len(sizes) - 2)
    coefs, intercepts = unpack_params(theta, sizes)
    A = X.toarray() if sp.issparse(X) else np.asarray(X)
    margin = np.inf
    for W, b, name in zip(coefs[:-1], intercepts[:-1], names, strict=True):
        Z = A @ W + b
        if name in KINKED:
            margin = min(margin, float(np.abs(Z).min()))
        A = HIDDEN_ACTIVATIONS[name].forward(Z)
    return margin


def _make_theta(X, sizes, activation, seed=0, margin=1e-3):
    """Glorot weights plus random biases (none zero), away from the kinks.

    With kinked activations (ReLU, leaky ReLU, ELU), seeds are tried from
    ``seed`` on until every such hidden pre-activation on ``X`` is at least
    ``margin`` away from 0, so that finite differences never step across a
    kink.
    """
    for s in range(seed, seed + 100):
        theta = init_params(sizes, activation, random_state=s)
        _, intercepts = unpack_params(theta, sizes)
        rng = np.random.default_rng(s)
        for b in intercepts:
            b += rng.uniform(-0.5, 0.5, b.shape)
        if _kink_margin(theta, X, sizes, activation) > margin:
            return theta
    raise RuntimeError("No kink-free parameters found.")  # pragma: no cover


@pytest.fixture
def make_theta(seed):
    """Factory ``make_theta(X, sizes, activation, seed=0) -> theta``; its
    ``seed`` counts from the :func:`seed` fixture's."""
    return _offset(_make_theta, seed)


@pytest.fixture(scope="session")
def kink_margin():
    """``kink_margin(theta, X, sizes, activation)``: the smallest ``|z|`` of a
    kinked hidden layer's pre-activations (inf without such layers)."""
    return _kink_margin


def _hutchinson_std(B, n_probes):
    """Standard error of the mean of ``z' B z`` over ``n_probes`` Rademacher
    probes ``z``, Hutchinson's (1990) estimate of ``tr(B)``.

    For independent +-1 entries ``Var(z' B z) = 2 sum_{i != j} B_s,ij^2``
    with ``B_s = (B + B')/2`` (the diagonal is known exactly).
    """
    B_s = (B + B.T) / 2
    variance = 2 * (np.sum(B_s**2) - np.sum(np.diag(B_s) ** 2))
    return float(np.sqrt(variance / n_probes))


@pytest.fixture(scope="session")
def hutchinson_std():
    """``hutchinson_std(B, n_probes)``: the standard error of Hutchinson's
    estimate of ``tr(B)`` from ``n_probes`` Rademacher probes."""
    return _hutchinson_std


# -- the Laplace approximation's textbook computations --------------------------
def _tanh_jacobian(theta, X, sizes):
    """Jacobian of the logits of a one-hidden-layer tanh network, by loops.

    ``theta`` in the package's layout: W1 (n0 x h), W2 (h x k), b1, b2.
    Returns shape ``(m, k, n_params)``.
    """
    n0, h, k = sizes
    W1 = theta[: n0 * h].reshape(n0, h)
    W2 = theta[n0 * h : n0 * h + h * k].reshape(h, k)
    b1 = theta[n0 * h + h * k : n0 * h + h * k + h]
    o_W2, o_b1, o_b2 = n0 * h, n0 * h + h * k, n0 * h + h * k + h
    Jac = np.zeros((X.shape[0], k, len(theta)))
    for r, x in enumerate(X):
        a = np.tanh(x @ W1 + b1)
        for out in range(k):
            for j in range(h):
                slope = W2[j, out] * (1 - a[j] ** 2)
                for i in range(n0):
                    Jac[r, out, i * h + j] = x[i] * slope
                Jac[r, out, o_b1 + j] = slope
                Jac[r, out, o_W2 + j * k + out] = a[j]
            Jac[r, out, o_b2 + out] = 1.0
    return Jac


def _tanh_logits(theta, X, sizes):
    n0, h, k = sizes
    W1 = theta[: n0 * h].reshape(n0, h)
    W2 = theta[n0 * h : n0 * h + h * k].reshape(h, k)
    b1 = theta[n0 * h + h * k : n0 * h + h * k + h]
    b2 = theta[n0 * h + h * k + h :]
    return np.tanh(X @ W1 + b1) @ W2 + b2


def _noisy_problem(m=40, n0=2, k=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, (m, n0))
    y = np.sin(2 * X[:, :1]) + X[:, 1:2] ** 2 + 0.1 * rng.randn(m, k)
    return X, y


@pytest.fixture
def tanh_jacobian():
    """``tanh_jacobian(theta, X, sizes)``: the logits' Jacobian of a
    one-hidden-layer tanh network, written out by hand."""
    return _tanh_jacobian


@pytest.fixture
def tanh_logits():
    """``tanh_logits(theta, X, sizes)``: that network's logits."""
    return _tanh_logits


@pytest.fixture
def noisy_problem(seed):
    """``noisy_problem(m=40, n0=2, k=1, seed=0) -> (X, y)``: a smooth function
    of two inputs plus noise of variance 0.01, ``y`` of shape ``(m, k)``; its
    ``seed`` counts from the :func:`seed` fixture's."""
    return _offset(_noisy_problem, seed)


@pytest.fixture
def recorded_reestimates(monkeypatch):
    """The list, filled as fits run, of ``(objective, theta, curvature,
    estimate)`` of each re-estimation of the evidence loop."""
    import skbackprop._training.evidence as evidence

    calls = []
    reestimate = evidence.reestimate

    def spy(objective, theta, curvature, *args, **kwargs):
        estimate = reestimate(objective, theta, curvature, *args, **kwargs)
        calls.append((objective, theta, curvature, estimate))
        return estimate

    monkeypatch.setattr(evidence, "reestimate", spy)
    return calls


def _rows_objective(net, X, Y, alpha, sparse, seed):
    """``(objective, theta)`` for ``net`` on ``X, Y``: weighted rows, ``X``
    40% zeros and CSR with ``sparse``, ``alpha="rows"`` one random penalty
    per input of each layer (ARD's groups), parameters of twice the
    initialization's scale."""
    from skbackprop._training.evidence import Groups
    from skbackprop._training.objective import InMemoryObjective

    rng = np.random.RandomState(seed + 3)
    if isinstance(alpha, str):
        groups = Groups(net, ard=True)
        alpha = groups.expand(rng.uniform(0.05, 5.0, groups.n))
    if sparse:
        X = X.copy()
        X[rng.uniform(size=X.shape) < 0.4] = 0.0
        X = sp.csr_matrix(X)
    theta = init_params(net.layer_sizes, "tanh", seed) * 2
    sw = rng.uniform(0.5, 2, X.shape[0])
    return InMemoryObjective(net, X, Y, sw, alpha), theta


@pytest.fixture
def rows_objective(seed):
    """:func:`_rows_objective` with the test's seed."""
    return lambda net, X, Y, alpha, sparse: _rows_objective(
        net, X, Y, alpha, sparse, seed
    )
