"""Property tests of the batch cost and gradient, on random networks and data.

For random architectures (0 to 3 hidden layers of 1 to 5 units), hidden
activations (one for all layers or one per layer), losses, data shapes,
penalties and sample weights:

* the analytic gradient ``D`` matches central finite differences;
* permuting the rows (with their weights) leaves ``J`` and ``D`` unchanged;
* integer sample weights equal repeating each row that many times.

Hypothesis runs derandomized, so every run checks the same examples.
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from skbackprop import check_gradient, cost_grad, init_params
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS

LOSSES = ["log_loss", "binary_log_loss", "squared_error", "poisson"]
ACTIVATIONS = sorted(HIDDEN_ACTIVATIONS)

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True)


@st.composite
def problems(draw, weights="float"):
    """A random network, its parameters, data and (maybe) sample weights."""
    hidden = draw(st.lists(st.integers(1, 5), min_size=0, max_size=3))
    # One name for every hidden layer, or one per hidden layer.
    activation = draw(
        st.sampled_from(ACTIVATIONS)
        | st.lists(
            st.sampled_from(ACTIVATIONS), min_size=len(hidden), max_size=len(hidden)
        )
    )
    loss = draw(st.sampled_from(LOSSES))
    n_samples = draw(st.integers(1, 12))
    n_features = draw(st.integers(1, 4))
    n_outputs = draw(st.integers(2 if loss == "log_loss" else 1, 4))
    alpha = draw(st.sampled_from([0.0, 0.1, 2.0]))
    chunk_size = draw(st.sampled_from([None, 1, 3]))
    seed = draw(st.integers(0, 2**32 - 1))

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if loss == "log_loss":
        Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif loss == "binary_log_loss":
        Y = rng.integers(0, 2, (n_samples, n_outputs)).astype(float)
    elif loss == "squared_error":
        Y = rng.normal(size=(n_samples, n_outputs))
    else:
        Y = rng.poisson(1.5, (n_samples, n_outputs)).astype(float)
    if weights == "float":
        sample_weight = draw(st.sampled_from([None, "positive", "some-zero"]))
        if sample_weight == "positive":
            sample_weight = rng.uniform(0.1, 3.0, n_samples)
        elif sample_weight == "some-zero":
            sample_weight = rng.uniform(0.1, 3.0, n_samples)
            sample_weight[rng.random(n_samples) < 0.3] = 0.0
            sample_weight[rng.integers(n_samples)] = 1.0  # a positive sum
    else:
        sample_weight = rng.integers(0, 4, n_samples)
        sample_weight[rng.integers(n_samples)] = 2  # a positive sum

    sizes = (n_features, *hidden, n_outputs)
    theta = init_params(sizes, activation, random_state=rng.integers(2**31))
    theta += rng.uniform(-0.3, 0.3, theta.shape)  # non-zero biases, no symmetry
    args = (X, Y, sizes, activation, loss, alpha, sample_weight, chunk_size)
    return theta, args


@SETTINGS
@given(problems())
def test_gradient_matches_finite_differences(kink_margin, problem):
    theta, args = problem
    X, _, sizes, activation = args[:4]
    # Finite differences must not step across a kink such as max(z, 0)'s.
    assume(kink_margin(theta, X, sizes, activation) > 1e-3)
    _, D = cost_grad(theta, *args)
    assume(np.linalg.norm(D) > 1e-6)  # a relative error needs a gradient
    assert check_gradient(cost_grad, theta, args) <= 1e-6


def test_gradient_check_is_not_vacuous():
    # The same check rejects a gradient with one coordinate perturbed.
    theta, args = _fixed_problem()
    _, D = cost_grad(theta, *args)

    def wrong(t, *a):
        J, G = cost_grad(t, *a)
        G = G.copy()
        G[0] += 1e-3 * np.linalg.norm(D)
        return J, G

    assert check_gradient(cost_grad, theta, args) <= 1e-6
    assert check_gradient(wrong, theta, args) > 1e-6


def _fixed_problem():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    sizes = (3, 4, 2)
    theta = init_params(sizes, "tanh", random_state=0)
    return theta, (X, Y, sizes, "tanh", "squared_error", 0.1)


def _permuted(args, order):
    X, Y, sizes, activation, loss, alpha, sw, chunk = args
    sw = None if sw is None else sw[order]
    return (X[order], Y[order], sizes, activation, loss, alpha, sw, chunk)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(problem, random):
    theta, args = problem
    order = np.arange(args[0].shape[0])
    random.shuffle(order)
    J, D = cost_grad(theta, *args)
    J_perm, D_perm = cost_grad(theta, *_permuted(args, order))
    # Equal up to the rounding of sums taken in another order.
    np.testing.assert_allclose(J_perm, J, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(D_perm, D, rtol=1e-10, atol=1e-13)


@SETTINGS
@given(problems(weights="integer"))
def test_integer_weights_equal_repeated_rows(problem):
    theta, args = problem
    X, Y, sizes, activation, loss, alpha, counts, chunk = args
    J, D = cost_grad(theta, *args)
    repeated = (
        np.repeat(X, counts, axis=0),
        np.repeat(Y, counts, axis=0),
        sizes,
        activation,
        loss,
        alpha,
        None,
        chunk,
    )
    J_rep, D_rep = cost_grad(theta, *repeated)
    np.testing.assert_allclose(J_rep, J, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(D_rep, D, rtol=1e-10, atol=1e-13)
