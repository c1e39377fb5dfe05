"""Shared fixtures: small random problems for every loss of the engine."""

import os

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from skbackprop import init_params, unpack_params
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS, check_activations

# Under pytest-xdist every worker is a process of its own: one BLAS thread each
# keeps the workers from oversubscribing the cores (the tests' matrices are small).
if os.environ.get("PYTEST_XDIST_WORKER"):
    threadpool_limits(1)

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


@pytest.fixture
def make_problem():
    """Factory ``make_problem(loss, n_samples=25, n_features=4, sparse=False,
    seed=0) -> (X, Y)``."""
    return _make_problem


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
def make_theta():
    """Factory ``make_theta(X, sizes, activation, seed=0) -> theta``."""
    return _make_theta


@pytest.fixture(scope="session")
def kink_margin():
    """``kink_margin(theta, X, sizes, activation)``: the smallest ``|z|`` of a
    kinked hidden layer's pre-activations (inf without such layers)."""
    return _kink_margin
