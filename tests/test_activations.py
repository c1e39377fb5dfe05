"""The estimators with every hidden activation, and one per hidden layer."""

import pickle

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skbackprop import BackpropClassifier, BackpropRegressor, init_params, pack_params
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def problem(seed):
    """``(X, Y, YR)``: 120 rows, three classes and a regression target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 3))
    Y = np.digitize(X[:, 0] * X[:, 1] + X[:, 2], [-0.5, 0.5])
    YR = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    return X, Y, YR


@pytest.mark.parametrize("activation", sorted(HIDDEN_ACTIVATIONS))
def test_every_activation_learns(activation, problem, seed):
    X, Y, YR = problem
    kw = {
        "hidden_layer_sizes": (12,),
        "max_iter": 300,
        "random_state": seed,
        "alpha": 1e-4,
    }
    clf = BackpropClassifier(activation=activation, **kw).fit(X, Y)
    reg = BackpropRegressor(activation=activation, **kw).fit(X, YR)
    # The identity network is linear: it cannot fit these products.
    floor = 0.0 if activation == "identity" else 0.8
    assert clf.score(X, Y) > max(floor, 0.6)
    assert reg.score(X, YR) > floor


def test_one_activation_per_hidden_layer(problem, seed):
    X, Y, _ = problem
    kw = {"hidden_layer_sizes": (8, 6), "max_iter": 30, "random_state": seed}
    mixed = BackpropClassifier(activation=["gelu", "logistic"], **kw).fit(X, Y)
    assert mixed.score(X, Y) > 0.6
    assert mixed.get_params()["activation"] == ["gelu", "logistic"]
    # A step of 1e-300 leaves the initial weights: each layer's Glorot factor.
    still = BackpropClassifier(
        activation=["gelu", "logistic"], solver="gd", learning_rate_init=1e-300, **kw
    ).fit(X, Y)
    np.testing.assert_array_equal(
        pack_params(still.coefs_, still.intercepts_),
        init_params((3, 8, 6, 3), ["gelu", "logistic"], random_state=seed),
    )
    # A list of one name repeated is that name.
    same = BackpropClassifier(activation=("tanh", "tanh"), **kw).fit(X, Y)
    one = BackpropClassifier(activation="tanh", **kw).fit(X, Y)
    np.testing.assert_array_equal(
        pack_params(same.coefs_, same.intercepts_),
        pack_params(one.coefs_, one.intercepts_),
    )


@pytest.mark.parametrize(
    "activation, error, match",
    [
        ("swish", InvalidParameterError, "'activation' parameter"),
        (["tanh"], ValueError, r"activation has 1 name\(s\) but the network has 2"),
        (["tanh", "relu", "elu"], ValueError, "has 3 name"),
        (["tanh", "swish"], ValueError, "activation must be one of.*got 'swish'"),
        ([None, "relu"], ValueError, "got None"),
    ],
)
def test_bad_activation_fails_clearly_and_keeps_the_fitted_state(
    activation, error, match, problem
):
    X, _, YR = problem
    est = BackpropRegressor((4, 3), random_state=0, max_iter=5).fit(X, YR)
    before = pickle.dumps(est)
    est.set_params(activation=activation)
    with pytest.raises(error, match=match):
        est.fit(X, YR)
    est.set_params(activation="relu")
    assert pickle.dumps(est) == before
