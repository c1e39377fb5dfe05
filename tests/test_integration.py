"""The estimators inside scikit-learn: pipelines, model selection, persistence,
reproducibility, and a side-by-side comparison with scikit-learn's MLP."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from scipy.optimize import OptimizeResult
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier, BackpropRegressor

X, y = make_classification(
    n_samples=120,
    n_features=5,
    n_informative=4,
    n_redundant=0,
    n_classes=3,
    n_clusters_per_class=1,
    random_state=0,
)
X_raw = X * [1.0, 10.0, 100.0, 0.1, 1000.0] + 50.0  # badly scaled features
X = StandardScaler().fit_transform(X_raw)

SMALL = {"hidden_layer_sizes": (6,), "random_state": 0}


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def same_params(a, b):
    pairs = zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    return all(np.array_equal(p, q) for p, q in pairs)


def test_pipeline_with_a_scaler():
    pipe = make_pipeline(StandardScaler(), BackpropClassifier(**SMALL))
    quiet_fit(pipe, X_raw, y)
    assert pipe.score(X_raw, y) > 0.9
    # The pipeline is exactly scaler then network.
    net = quiet_fit(BackpropClassifier(**SMALL), X, y)
    np.testing.assert_array_equal(pipe.predict_proba(X_raw), net.predict_proba(X))
    # Scaling matters: the raw features train far worse in the same budget.
    raw = quiet_fit(BackpropClassifier(max_iter=30, **SMALL), X_raw, y)
    scaled = quiet_fit(
        make_pipeline(StandardScaler(), BackpropClassifier(max_iter=30, **SMALL)),
        X_raw,
        y,
    )
    assert scaled.score(X_raw, y) > raw.score(X_raw, y)


def test_grid_search_in_parallel(seed):
    grid = GridSearchCV(
        BackpropClassifier(max_iter=30, random_state=seed),
        {
            "hidden_layer_sizes": [(3,), (8,)],
            "alpha": [1e-4, 10.0],
            "solver": ["L-BFGS-B", "gd"],
        },
        cv=3,
        n_jobs=2,
        error_score="raise",
    )
    quiet_fit(grid, X, y)
    results = grid.cv_results_
    assert len(results["params"]) == 8
    assert np.all(np.isfinite(results["mean_test_score"]))
    # Different settings, different scores; a huge penalty is never best.
    assert np.ptp(results["mean_test_score"]) > 0.05
    assert grid.best_params_["alpha"] == 1e-4
    assert grid.best_score_ > 0.8
    # The refit model is the best setting fitted on all the data.
    refit = quiet_fit(
        BackpropClassifier(max_iter=30, random_state=seed, **grid.best_params_), X, y
    )
    assert same_params(grid.best_estimator_, refit)


def test_cross_val_score():
    target = X[:, 1] + X[:, 2] ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(BackpropClassifier(max_iter=50, **SMALL), X, y, cv=4)
        reg_scores = cross_val_score(
            BackpropRegressor(alpha=1e-2, max_iter=100, **SMALL),
            X[:, 1:],
            target,
            cv=3,
        )
    assert scores.shape == (4,)
    assert scores.mean() > 0.8
    assert reg_scores.mean() > 0.8


def test_clone(seed):
    est = BackpropClassifier(
        hidden_layer_sizes=(4, 3),
        solver="gd",
        momentum=0.5,
        **{"random_state": seed + 7},
    )
    quiet_fit(est, X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "coefs_")
    quiet_fit(copy, X, y)
    assert same_params(copy, est)


@pytest.mark.parametrize(
    "est",
    [
        BackpropClassifier(**SMALL),
        BackpropClassifier(solver="gd", batch_size=32, max_iter=20, **SMALL),
        BackpropRegressor(solver="trust-ncg", max_iter=20, **SMALL),
    ],
    ids=["classifier-lbfgs", "classifier-gd", "regressor-trust-ncg"],
)
def test_pickle_and_joblib_round_trips(est, tmp_path):
    target = y if isinstance(est, BackpropClassifier) else X[:, 0]
    Xf = X[:, 1:] if isinstance(est, BackpropRegressor) else X
    quiet_fit(est, Xf, target)
    method = "predict_proba" if isinstance(est, BackpropClassifier) else "predict"
    expected = getattr(est, method)(Xf)

    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(getattr(loaded, method)(Xf), expected)
    np.testing.assert_array_equal(loaded.predict(Xf), est.predict(Xf))
    assert same_params(loaded, est)

    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(getattr(loaded, method)(Xf), expected)
    assert loaded.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert loaded.loss_curve_ == est.loss_curve_
    if est.solver != "gd":
        assert isinstance(loaded.optimize_result_, OptimizeResult)

    buffer = io.BytesIO()
    joblib.dump(est, buffer, compress=3)
    buffer.seek(0)
    np.testing.assert_array_equal(getattr(joblib.load(buffer), method)(Xf), expected)


def test_partial_fit_continues_identically_after_a_round_trip():
    est = BackpropClassifier(solver="gd", momentum=0.9, **SMALL)
    est.partial_fit(X, y, classes=[0, 1, 2])
    est.partial_fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)  # the momentum velocity travelled with it
    assert same_params(loaded, est)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "L-BFGS-B"},
        {"solver": "gd", "batch_size": 16, "max_iter": 30, "momentum": 0.9},
        {"solver": "gd", "early_stopping": True, "learning_rate_init": 0.3},
    ],
    ids=["lbfgs", "minibatch-gd", "gd-early-stopping"],
)
def test_bit_identical_fits_for_the_same_random_state(params, seed):
    a = quiet_fit(BackpropClassifier(**params, **SMALL), X, y)
    b = quiet_fit(BackpropClassifier(**params, **SMALL), X, y)
    assert same_params(a, b)
    assert a.loss_curve_ == b.loss_curve_
    assert a.n_iter_ == b.n_iter_
    other = quiet_fit(
        BackpropClassifier(**params, hidden_layer_sizes=(6,), random_state=seed + 1),
        X,
        y,
    )
    assert not np.array_equal(a.coefs_[0], other.coefs_[0])


# -- scikit-learn's MLP, same data and hyperparameters -----------------------------


def _sklearn_initial_params(mlp, X, y):
    """scikit-learn's initial weights: one SGD epoch whose step rounds to 0."""
    first = clone(mlp).set_params(
        solver="sgd",
        learning_rate_init=1e-300,
        momentum=0.0,
        max_iter=1,
        shuffle=False,
        early_stopping=False,
    )
    return quiet_fit(first, X, y)


def _our_initial_params(est, X, y):
    def stay(fun, x0, args=(), **kwargs):
        return OptimizeResult(x=x0, fun=fun(x0, *args), nit=0, success=True)

    return clone(est).set_params(solver=stay).fit(X, y)


def test_same_fit_as_sklearn_mlp_classifier_on_digits(seed):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    params = {
        "hidden_layer_sizes": (16,),
        "alpha": 1e-3,
        "activation": "relu",
        "max_iter": 40,
        "random_state": seed,
    }
    theirs = MLPClassifier(solver="lbfgs", **params)
    ours = BackpropClassifier(solver="L-BFGS-B", **params)

    assert same_params(
        _our_initial_params(ours, X_train, y_train),
        _sklearn_initial_params(theirs, X_train, y_train),
    )

    quiet_fit(theirs, X_train, y_train)
    quiet_fit(ours, X_train, y_train)
    assert ours.loss_ < 0.05
    assert max(ours.loss_, theirs.loss_) < 1.5 * min(ours.loss_, theirs.loss_)
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.02
    assert ours.score(X_test, y_test) > 0.9
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)


def test_same_fit_as_sklearn_mlp_regressor_on_diabetes(seed):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    params = {
        "hidden_layer_sizes": (16,),
        "alpha": 1e-3,
        "activation": "tanh",
        "max_iter": 50,
        "random_state": seed,
    }
    theirs = MLPRegressor(solver="lbfgs", **params)
    ours = BackpropRegressor(solver="L-BFGS-B", **params)

    assert same_params(
        _our_initial_params(ours, X, y), _sklearn_initial_params(theirs, X, y)
    )

    quiet_fit(theirs, X, y)
    quiet_fit(ours, X, y)
    # scikit-learn's squared loss is ours: (1/2n) sum (a - y)^2 + penalty.
    assert max(ours.loss_, theirs.loss_) < 1.2 * min(ours.loss_, theirs.loss_)
    assert abs(ours.score(X, y) - theirs.score(X, y)) <= 0.02
    assert ours.score(X, y) > 0.6
