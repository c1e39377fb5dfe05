"""Saving and loading fitted estimators: pickle, joblib and skops."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from scipy.optimize import OptimizeResult
from sklearn.exceptions import ConvergenceWarning

import skbackprop
from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    InconsistentVersionWarning,
    trusted_types,
)

sio = pytest.importorskip("skops.io")
from skops.io.exceptions import UntrustedTypesFoundException  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4))
Y_BINARY = (X[:, 0] + X[:, 1] > 0).astype(int)
Y_MULTI = np.array(["a", "b", "c"])[np.digitize(X[:, 0], [-0.5, 0.5])]
Y_LABELS = (X[:, :3] > 0).astype(int)
Y_REG = np.sin(X[:, 0]) + X[:, 1]
Y_COUNTS = RNG.poisson(np.exp(0.5 * X[:, 0]))
X_NEW = RNG.normal(size=(25, 4))

SMALL = {"hidden_layer_sizes": (5,), "max_iter": 30, "random_state": 0}

# (id, estimator, X, y): every solver family and target type.
CASES = [
    ("lbfgs-binary", BackpropClassifier(**SMALL), Y_BINARY),
    ("lbfgs-multiclass-str", BackpropClassifier(**SMALL), Y_MULTI),
    ("multilabel", BackpropClassifier(**SMALL, activation="tanh"), Y_LABELS),
    (
        "class-weight",
        BackpropClassifier(**SMALL, class_weight={0: 1.0, 1: 3.0}),
        Y_BINARY,
    ),
    ("bfgs", BackpropRegressor(**SMALL, solver="BFGS"), Y_REG),
    ("trust-constr", BackpropRegressor(**SMALL, solver="trust-constr"), Y_REG),
    ("newton-cg", BackpropRegressor(**SMALL, solver="Newton-CG"), Y_REG),
    ("poisson", BackpropRegressor(**SMALL, loss="poisson"), Y_COUNTS),
    (
        "gd-momentum",
        BackpropClassifier(**SMALL, solver="gd", momentum=0.9, batch_size=16),
        Y_MULTI,
    ),
    (
        "early-stopping",
        BackpropRegressor(**SMALL, solver="gd", early_stopping=True),
        Y_REG,
    ),
    ("no-hidden", BackpropRegressor(hidden_layer_sizes=(), random_state=0), Y_REG),
    ("float32", BackpropRegressor(**SMALL, activation="logistic"), Y_REG),
    # The evidence's posterior (a Cholesky factor) and ARD's alpha_ array.
    ("ard", BackpropRegressor(**SMALL, alpha="ard", activation="tanh"), Y_REG),
]


@pytest.fixture(scope="module")
def fitted():
    """Every case fitted once: {id: estimator}."""
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, est, y in CASES:
            models[name] = est.fit(X.astype(np.float32) if name == "float32" else X, y)
    return models


def _outputs(est):
    """Everything the estimator computes for new data."""
    out = [est.predict(X_NEW)]
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X_NEW))
    if getattr(est, "_laplace", None) is not None:
        out.append(est.predict(X_NEW, return_std=True)[1])
    out.append(np.atleast_1d(est.alpha_))
    return out


def _assert_same_model(a, b):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert ca.dtype == cb.dtype
        assert np.array_equal(ca, cb)
    for oa, ob in zip(_outputs(a), _outputs(b), strict=True):
        assert oa.dtype == ob.dtype
        assert np.array_equal(oa, ob)  # bit-identical


NAMES = [name for name, _, _ in CASES]


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_is_bit_identical(fitted, name):
    est = fitted[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        loaded = pickle.loads(pickle.dumps(est))
    _assert_same_model(est, loaded)
    for key in ("n_iter_", "loss_", "loss_curve_", "n_features_in_"):
        assert getattr(loaded, key) == getattr(est, key)


@pytest.mark.parametrize("name", ["lbfgs-multiclass-str", "gd-momentum", "bfgs"])
def test_joblib_round_trip_is_bit_identical(fitted, name, tmp_path):
    est = fitted[name]
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    _assert_same_model(est, joblib.load(path))


@pytest.mark.parametrize("name", NAMES)
def test_skops_loads_with_only_the_documented_types(fitted, name, tmp_path):
    est = fitted[name]
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == [f"skbackprop._classes.{type(est).__name__}"]
    assert set(untrusted) <= set(trusted_types())
    _assert_same_model(est, sio.load(path, trusted=trusted_types()))


@pytest.mark.parametrize("trusted", [None, []])
def test_skops_refuses_untrusted_types(fitted, trusted):
    data = sio.dumps(fitted["lbfgs-binary"])
    with pytest.raises(UntrustedTypesFoundException, match="BackpropClassifier"):
        sio.loads(data, trusted=trusted)


def test_trusted_types_are_the_public_estimators():
    names = trusted_types()
    assert names == sorted(names)
    for name in names:
        module, _, cls = name.rpartition(".")
        assert getattr(skbackprop, cls).__module__ == module
    names.append("something.Else")  # a fresh list every call
    assert "something.Else" not in trusted_types()


def test_unfitted_estimator_round_trips():
    est = BackpropRegressor(hidden_layer_sizes=(3, 2), solver="gd", alpha=0.5)
    for loaded in (
        pickle.loads(pickle.dumps(est)),
        sio.loads(sio.dumps(est), trusted=trusted_types()),
    ):
        assert loaded.get_params() == est.get_params()
        assert not hasattr(loaded, "coefs_")


@pytest.mark.parametrize("how", ["pickle", "skops"])
def test_partial_fit_continues_identically_after_loading(fitted, how):
    # The optimizer's state (velocity, step count) survives the round trip.
    est = fitted["gd-momentum"]
    if how == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        loaded = sio.loads(sio.dumps(est), trusted=trusted_types())
    assert np.array_equal(loaded._optimizer.velocity, est._optimizer.velocity)
    original = pickle.loads(pickle.dumps(est))  # leave the fixture untouched
    original.partial_fit(X, Y_MULTI)
    loaded.partial_fit(X, Y_MULTI)
    _assert_same_model(original, loaded)
    assert loaded.n_iter_ == 1
    assert len(loaded.loss_curve_) == len(est.loss_curve_) + 1


@pytest.mark.parametrize("name", ["lbfgs-binary", "bfgs", "trust-constr"])
def test_optimize_result_keeps_its_plain_entries(fitted, name):
    est = fitted[name]
    loaded = sio.loads(sio.dumps(est), trusted=trusted_types())
    result, original = loaded.optimize_result_, est.optimize_result_
    assert isinstance(result, OptimizeResult)
    # The curvature approximation (a LinearOperator for L-BFGS-B, an
    # n_params x n_params matrix for BFGS) is not saved.
    assert "hess_inv" not in result
    for key in ("fun", "nit", "success", "message", "status"):
        assert result[key] == original[key]
    assert np.array_equal(result.x, original.x)


def test_gradient_descent_result_stays_none(fitted):
    loaded = pickle.loads(pickle.dumps(fitted["gd-momentum"]))
    assert loaded.optimize_result_ is None


def _load_under_version(data, version, monkeypatch):
    monkeypatch.setattr("skbackprop._persistence.__version__", version)
    return pickle.loads(data)


def test_loading_another_version_warns(fitted, monkeypatch):
    est = fitted["lbfgs-binary"]
    data = pickle.dumps(est)
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = _load_under_version(data, "999.0", monkeypatch)
    message = str(record[0].message)
    assert f"BackpropClassifier saved with skbackprop {skbackprop.__version__}" in (
        message
    )
    assert "using skbackprop 999.0" in message
    _assert_same_model(est, loaded)  # it still loads


def test_version_warning_is_sklearns(fitted, monkeypatch):
    # Filtering scikit-learn's InconsistentVersionWarning filters ours too.
    from sklearn.exceptions import InconsistentVersionWarning as SklearnWarning

    data = pickle.dumps(fitted["lbfgs-binary"])
    with pytest.warns(SklearnWarning, match="skbackprop"):
        _load_under_version(data, "999.0", monkeypatch)


def test_skops_load_of_another_version_warns(fitted, monkeypatch):
    data = sio.dumps(fitted["poisson"])
    monkeypatch.setattr("skbackprop._persistence.__version__", "0.0.1")
    with pytest.warns(InconsistentVersionWarning, match="using skbackprop 0.0.1"):
        sio.loads(data, trusted=trusted_types())


def test_state_without_version_warns_unknown(fitted):
    est = fitted["bfgs"]
    state = est.__getstate__()
    assert state["_skbackprop_version"] == skbackprop.__version__
    del state["_skbackprop_version"]
    loaded = BackpropRegressor.__new__(BackpropRegressor)
    with pytest.warns(InconsistentVersionWarning, match="skbackprop unknown"):
        loaded.__setstate__(state)
    _assert_same_model(est, loaded)


def test_same_version_does_not_warn(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(pickle.dumps(fitted["newton-cg"]))
    assert "_skbackprop_version" not in vars(loaded)


def test_saving_does_not_change_the_estimator(fitted):
    est = fitted["gd-momentum"]
    optimizer = est._optimizer
    pickle.dumps(est)
    sio.dumps(est)
    assert est._optimizer is optimizer
    assert "_skbackprop_version" not in vars(est)
