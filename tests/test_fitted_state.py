"""A fitted estimator's state: prediction checks it, loading refuses it broken.

* Parameters changed by ``set_params`` after ``fit`` are validated by every
  prediction path (in memory and Dask) before they are used; the output
  activation is the one the model was fitted with.
* Attributes edited after ``fit``, and saved files edited by hand (pickle,
  joblib, skops), are refused with an error that names the field, instead
  of predicting garbage or failing deep inside NumPy.
"""

import copy
import io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skbackprop import BackpropClassifier, BackpropRegressor, trusted_types

sio = pytest.importorskip("skops.io")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y3 = np.digitize(X[:, 1], [-0.5, 0.5])
YR = np.column_stack([X[:, 0] - X[:, 2], X[:, 1]])
SMALL = {"hidden_layer_sizes": (4,), "random_state": 0, "max_iter": 10}


def _fit(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "clf":
            return BackpropClassifier(**SMALL).fit(X, Y3)
        if kind == "reg":
            return BackpropRegressor(**SMALL).fit(X, YR)
        if kind == "gd":
            est = BackpropClassifier(**SMALL, solver="gd", momentum=0.9)
            return est.partial_fit(X, Y3, classes=[0, 1, 2])
    raise ValueError(kind)  # pragma: no cover


FITTED = {kind: _fit(kind) for kind in ("clf", "reg", "gd")}


def _methods(est):
    names = ["predict", "score"]
    if hasattr(est, "predict_proba"):
        names += ["predict_proba", "predict_log_proba"]
    return names


def _call(est, method, X=X):
    if method == "score":
        y = Y3 if hasattr(est, "classes_") else YR
        return est.score(X, y)
    return getattr(est, method)(X)


# -- parameters changed after fit ---------------------------------------------------
BAD_PARAMS = [
    ("chunk_size", -1),
    ("chunk_size", 0),
    ("chunk_size", 2.5),
    ("chunk_size", "64"),
    ("activation", "swish"),
    ("activation", ["relu", "relu", "relu"]),
    ("activation", None),
]


@pytest.mark.parametrize("dask", [False, True], ids=["memory", "dask"])
@pytest.mark.parametrize("param, value", BAD_PARAMS)
@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_prediction_validates_parameters_set_after_fit(kind, param, value, dask):
    est = copy.deepcopy(FITTED[kind]).set_params(**{param: value})
    X_in = X
    if dask:
        da = pytest.importorskip("dask.array")
        X_in = da.from_array(X, chunks=15)
    for method in _methods(est):
        with pytest.raises(ValueError, match=f"'{param}' parameter|^{param} has"):
            out = _call(est, method, X_in)
            np.asarray(out)  # a lazy Dask result fails on compute at the latest


@pytest.mark.parametrize("param, value", BAD_PARAMS)
def test_bad_parameters_before_fit_say_not_fitted(param, value):
    est = BackpropClassifier().set_params(**{param: value})
    for method in _methods(est):
        with pytest.raises(NotFittedError):
            _call(est, method)


def test_changing_loss_after_fit_keeps_the_fitted_output():
    # Predictions use the output activation the network was fitted with.
    est = copy.deepcopy(FITTED["reg"])
    expected = est.predict(X)
    est.set_params(loss="poisson")
    np.testing.assert_array_equal(est.predict(X), expected)


def test_a_valid_chunk_size_set_after_fit_predicts_the_same():
    est = copy.deepcopy(FITTED["clf"])
    expected = est.predict_proba(X)
    est.set_params(chunk_size=7)
    np.testing.assert_allclose(est.predict_proba(X), expected, rtol=1e-12)


# -- corrupt state: edited attributes and edited files ------------------------------
def _set(field, value):
    def edit(est):
        setattr(est, field, value)

    return edit


def _item(field, index, change):
    def edit(est):
        arrays = list(getattr(est, field))
        arrays[index] = change(arrays[index])
        setattr(est, field, arrays)

    return edit


# (id, kinds it applies to, edit, the field the error must name)
STRUCTURAL = [
    ("bias-shape-1", "clf", _item("intercepts_", -1, lambda b: b[:1]), "intercepts_"),
    ("bias-2d", "all", _item("intercepts_", 0, lambda b: b[None]), "intercepts_"),
    ("coef-transposed", "all", _item("coefs_", 0, lambda W: W.T.copy()), "coefs_"),
    ("coef-int", "all", _item("coefs_", 1, lambda W: W.astype(int)), "coefs_"),
    (
        "coef-float32",
        "all",
        _item("coefs_", 1, lambda W: W.astype(np.float32)),
        "coefs_",
    ),
    ("coef-list", "all", _item("coefs_", 0, lambda W: W.tolist()), "coefs_"),
    ("coefs-empty", "all", _set("coefs_", []), "coefs_"),
    ("coefs-str", "all", _set("coefs_", "weights"), "coefs_"),
    ("bias-missing", "all", lambda e: e.intercepts_.pop(), "intercepts_"),
    ("n-features", "all", _set("n_features_in_", 4), "n_features_in_"),
    ("n-features-str", "all", _set("n_features_in_", "3"), "n_features_in_"),
    ("n-outputs", "all", _set("n_outputs_", 5), "n_outputs_"),
    ("n-layers", "all", _set("n_layers_", 7), "n_layers_"),
    ("out-activation-clf", "clf", _set("out_activation_", "identity"), "out_act"),
    ("out-activation-reg", "reg", _set("out_activation_", "softmax"), "out_act"),
    ("out-activation-bad", "all", _set("out_activation_", "gelu"), "out_act"),
    ("classes-short", "clf", _set("classes_", np.array([0, 1])), "classes_"),
    ("classes-other", "clf", _set("classes_", np.array([0, 1, 5])), "classes_"),
    (
        "binarizer-type",
        "clf",
        lambda e: setattr(e._label_binarizer, "y_type_", "continuous"),
        "y_type_",
    ),
    (
        "binarizer-labels",
        "clf",
        lambda e: setattr(e._label_binarizer, "pos_label", 5),
        "_label_binarizer",
    ),
    ("binarizer-missing", "clf", _set("_label_binarizer", None), "_label_binarizer"),
    (
        "feature-names",
        "all",
        _set("feature_names_in_", np.array(["a", "b"], dtype=object)),
        "feature_names_in_",
    ),
]

# Only loading checks these: prediction does not use them.
DEEP = [
    (
        "coef-nan",
        "all",
        _item("coefs_", 0, lambda W: np.where(W == W.flat[0], np.nan, W)),
        "coefs_",
    ),
    ("bias-inf", "all", _item("intercepts_", 0, lambda b: b + np.inf), "intercepts_"),
    ("chunk-negative", "all", _set("chunk_size", -1), "chunk_size"),
    ("chunk-zero", "all", _set("chunk_size", 0), "chunk_size"),
    ("activation", "all", _set("activation", "swish"), "activation"),
    ("alpha-negative", "all", _set("alpha", -1.0), "alpha"),
    ("max-iter-str", "all", _set("max_iter", "many"), "max_iter"),
    ("solver", "all", _set("solver", "adam"), "solver"),
    ("loss", "reg", _set("loss", "hinge"), "loss"),
    ("no-chunk-size", "all", lambda e: delattr(e, "chunk_size"), "chunk_size"),
    (
        "binarizer-unfitted",
        "clf",
        lambda e: delattr(e._label_binarizer, "classes_"),
        "_label_binarizer",
    ),
    ("n-iter-negative", "all", _set("n_iter_", -1), "n_iter_"),
    ("loss-str", "all", _set("loss_", "low"), "loss_"),
    ("curve-str", "all", _set("loss_curve_", "down"), "loss_curve_"),
    (
        "velocity-shape",
        "gd",
        lambda e: setattr(e._optimizer, "velocity", e._optimizer.velocity[:3]),
        "velocity",
    ),
    (
        "momentum",
        "gd",
        lambda e: setattr(e._optimizer, "momentum", 5.0),
        "momentum",
    ),
    ("eta", "gd", lambda e: setattr(e._optimizer, "eta", -1.0), "eta"),
    (
        "optimizer-fields",
        "gd",
        lambda e: delattr(e._optimizer, "t"),
        "_optimizer",
    ),
]


def _cases(table):
    return [
        pytest.param(kind, edit, field, id=f"{name}-{kind}")
        for name, kinds, edit, field in table
        for kind in (("clf", "reg", "gd") if kinds == "all" else (kinds,))
    ]


def _corrupt(kind, edit):
    est = copy.deepcopy(FITTED[kind])
    edit(est)
    return est


@pytest.mark.parametrize("kind, edit, field", _cases(STRUCTURAL))
def test_prediction_refuses_an_inconsistent_fitted_state(kind, edit, field):
    est = _corrupt(kind, edit)
    for method in _methods(est):
        with pytest.raises(ValueError, match=field):
            _call(est, method)


@pytest.mark.parametrize("kind, edit, field", _cases(STRUCTURAL[:9]))
def test_continued_training_refuses_an_inconsistent_fitted_state(kind, edit, field):
    est = _corrupt(kind, edit)
    y = YR if kind == "reg" else Y3
    continue_fit = (
        est.partial_fit if kind == "gd" else est.set_params(warm_start=True).fit
    )
    with pytest.raises(ValueError, match=field):
        continue_fit(X, y)


def _skops_round_trip(est):
    return sio.loads(sio.dumps(est), trusted=trusted_types())


LOADERS = {
    "pickle": lambda est: pickle.loads(pickle.dumps(est)),
    "skops": _skops_round_trip,
}


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize("kind, edit, field", [*_cases(STRUCTURAL), *_cases(DEEP)])
def test_loading_refuses_an_inconsistent_file(kind, edit, field, loader):
    est = _corrupt(kind, edit)
    with pytest.raises(ValueError, match=f"Refusing to load(?s:.*){field}"):
        LOADERS[loader](est)


@pytest.mark.parametrize("loader", list(LOADERS))
@pytest.mark.parametrize("kind", ["clf", "reg", "gd"])
def test_consistent_states_load_and_predict_the_same(kind, loader):
    est = FITTED[kind]
    loaded = LOADERS[loader](est)
    for method in _methods(est):
        np.testing.assert_array_equal(_call(loaded, method), _call(est, method))


@pytest.mark.parametrize("loader", list(LOADERS))
def test_unfitted_estimators_with_odd_parameters_still_load(loader):
    # Only fitted state is checked on loading: fit validates the parameters.
    est = BackpropRegressor(chunk_size=-1, alpha=-1.0)
    assert LOADERS[loader](est).get_params() == est.get_params()


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_state_without_an_unused_parameter_still_loads(loader):
    # As a file from a version before that parameter existed: fit, which
    # validates every parameter, will say what is missing; prediction works.
    est = copy.deepcopy(FITTED["clf"])
    del est.max_fun
    loaded = LOADERS[loader](est)
    np.testing.assert_array_equal(loaded.predict(X), FITTED["clf"].predict(X))


# -- a .skops file edited by hand ---------------------------------------------------
def _edit_skops(data, edit):
    """The skops archive ``data`` with its schema and arrays edited by
    ``edit(attributes, files)``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    edit(schema["content"]["content"], files)
    files["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def _json_field(field, value):
    def edit(attrs, files):
        # A fresh __id__: skops memoizes nodes by id (None is shared).
        attrs[field] = {**attrs[field], "content": json.dumps(value), "__id__": 1}

    return edit


def _array_field(field, index, value):
    def edit(attrs, files):
        buffer = io.BytesIO()
        np.save(buffer, value)
        files[attrs[field]["content"][index]["file"]] = buffer.getvalue()

    return edit


@pytest.mark.parametrize(
    "edit, field",
    [
        (_json_field("chunk_size", -1), "chunk_size"),
        (_json_field("chunk_size", 0), "chunk_size"),
        (_json_field("activation", "swish"), "activation"),
        (_json_field("n_features_in_", 9), "n_features_in_"),
        (_array_field("intercepts_", 1, np.zeros(1)), "intercepts_"),
        (_array_field("coefs_", 0, np.zeros((3, 5))), "intercepts_"),
        (_array_field("coefs_", 1, np.full((4, 3), np.nan)), "coefs_"),
    ],
    ids=[
        "chunk-negative",
        "chunk-zero",
        "activation",
        "n-features",
        "bias-shape-1",
        "coef-shape",
        "coef-nan",
    ],
)
def test_an_edited_skops_file_is_refused(edit, field):
    data = _edit_skops(sio.dumps(FITTED["clf"]), edit)
    # Every type in the edited file is still a trusted one.
    assert set(sio.get_untrusted_types(data=data)) <= set(trusted_types())
    with pytest.raises(ValueError, match=f"Refusing to load(?s:.*){field}"):
        sio.loads(data, trusted=trusted_types())


def test_an_unedited_skops_file_round_trips_through_the_editor():
    data = _edit_skops(sio.dumps(FITTED["clf"]), lambda attrs, files: None)
    loaded = sio.loads(data, trusted=trusted_types())
    np.testing.assert_array_equal(
        loaded.predict_proba(X), FITTED["clf"].predict_proba(X)
    )
