"""ONNX export: skl2onnx graphs run in onnxruntime against predict/predict_proba.

Tolerances, for outputs of scale ``s = max(1, max |output|)``: ``1e-5 s``
in float32 and ``1e-10 s`` in float64 (the graphs compute in the input's
dtype; float64 graphs differ from NumPy by a few roundings per layer).
Labels are identical wherever the probabilities decide them by more than
that tolerance.
"""

import sys

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier, BackpropRegressor, register_onnx_converters
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from skbackprop._onnx_graph import HIDDEN, OUTPUT

REASON = 'ONNX export needs the onnx extra: pip install "skbackprop[onnx]"'
ACTIVATIONS = sorted(HIDDEN_ACTIVATIONS)
DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-10}
# Short fits: the converters need fitted weights, not converged ones.
pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 4)) * [1.0, 3.0, 0.5, 10.0] + [0.0, 5.0, -1.0, 20.0]
Z = (X - X.mean(axis=0)) / X.std(axis=0)
Y_BINARY = np.array([3, 7])[(Z[:, 0] + Z[:, 1] > 0).astype(int)]
Y_MULTI = np.array(["a", "b", "c"])[np.digitize(Z[:, 0] - Z[:, 2], [-0.5, 0.5])]
Y_LABELS = (Z[:, :3] > 0).astype(int)
Y_REG = np.c_[np.sin(Z[:, 0]) + Z[:, 1], Z[:, 2] * Z[:, 3]]
Y_COUNTS = RNG.poisson(np.exp(0.5 * Z[:, 0]))
SMALL = {"hidden_layer_sizes": (6, 5), "max_iter": 25, "random_state": 0}


@pytest.fixture(scope="module")
def run():
    """``run(model, X, options=None, target_opset=None)``: the outputs of
    the model's ONNX graph in onnxruntime, for input ``X`` (its dtype is the
    graph's)."""
    skl2onnx = pytest.importorskip("skl2onnx", reason=REASON)
    pytest.importorskip("onnx", reason=REASON)
    ort = pytest.importorskip("onnxruntime", reason=REASON)
    register_onnx_converters()
    session_options = ort.SessionOptions()
    session_options.intra_op_num_threads = 1

    def run(model, X, options=None, target_opset=None):
        onx = skl2onnx.to_onnx(model, X[:1], options=options, target_opset=target_opset)
        session = ort.InferenceSession(
            onx.SerializeToString(), session_options, ["CPUExecutionProvider"]
        )
        return session.run(None, {session.get_inputs()[0].name: X}), onx

    return run


def _tolerance(dtype, reference):
    return TOL[dtype] * max(1.0, float(np.max(np.abs(reference))))


def _assert_close(actual, reference, dtype):
    actual = np.asarray(actual).reshape(np.shape(reference))
    assert actual.dtype == dtype
    assert np.max(np.abs(actual - reference)) <= _tolerance(dtype, reference)


def _margin(proba, multilabel):
    """How far each row's probabilities are from changing its label."""
    if multilabel or proba.shape[1] == 2:
        return np.abs(proba - 0.5).min(axis=1)
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2]


def _check_classifier(run, model, dtype, options=None, X=X):
    Xd = X.astype(dtype)
    est = model[-1] if hasattr(model, "steps") else model
    options = {id(est): {"zipmap": False, **(options or {})}}
    (labels, proba), _ = run(model, Xd, options)
    reference = model.predict_proba(Xd)
    _assert_close(proba, reference, dtype)
    multilabel = est._label_binarizer.y_type_ == "multilabel-indicator"
    decided = _margin(reference, multilabel) > _tolerance(dtype, reference)
    assert decided.mean() > 0.9
    np.testing.assert_array_equal(labels[decided], model.predict(Xd)[decided])
    return labels


def _check_regressor(run, model, dtype, X=X, **kwargs):
    Xd = X.astype(dtype)
    (values,), _ = run(model, Xd, **kwargs)
    reference = model.predict(Xd)
    assert values.shape == (len(X), reference.size // len(X))
    _assert_close(values, reference, dtype)


def test_a_builder_for_every_activation():
    assert set(HIDDEN) == set(HIDDEN_ACTIVATIONS)
    assert set(OUTPUT) == set(OUTPUT_ACTIVATIONS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hidden_activation(run, activation, dtype):
    model = make_pipeline(
        StandardScaler(), BackpropRegressor(**SMALL, activation=activation)
    ).fit(X, Y_REG)
    _check_regressor(run, model, dtype)
    model = make_pipeline(
        StandardScaler(), BackpropClassifier(**SMALL, activation=activation)
    ).fit(X, Y_MULTI)
    _check_classifier(run, model, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_activation_per_layer(run, dtype):
    # All nine in one network, one per hidden layer.
    model = BackpropRegressor(
        hidden_layer_sizes=(5,) * len(ACTIVATIONS),
        activation=ACTIVATIONS,
        max_iter=25,
        random_state=0,
    )
    model = make_pipeline(StandardScaler(), model).fit(X, Y_REG)
    _check_regressor(run, model, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_tails(run, activation, dtype):
    # Weights scaled up after the fit, so that the pre-activations span
    # about [-60, 60]: the tails of every activation and every branch of the
    # float64 normal CDF (|z / sqrt 2| < 1, in [1, 8), beyond 8).
    model = BackpropRegressor(
        hidden_layer_sizes=(8,), activation=activation, max_iter=5, random_state=0
    ).fit(Z, Y_REG)
    W = model.coefs_[0]
    model.coefs_[0] = W * (60 / np.abs(Z @ W + model.intercepts_[0]).max())
    r = np.abs(Z @ model.coefs_[0] + model.intercepts_[0]) / np.sqrt(2)
    assert (r < 1).any() and ((1 <= r) & (r < 8)).any() and (r > 30).any()
    Xd = Z.astype(dtype)
    (values,), _ = run(model, Xd)
    _assert_close(values, model.predict(Xd), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_integer_labels(run, dtype):
    model = BackpropClassifier(**SMALL).fit(Z, Y_BINARY)
    assert model.out_activation_ == "logistic"
    labels = _check_classifier(run, model, dtype, X=Z)
    assert labels.dtype == np.int64 and set(labels) == {3, 7}


@pytest.mark.parametrize("dtype", DTYPES)
def test_multiclass_string_labels(run, dtype):
    model = make_pipeline(StandardScaler(), BackpropClassifier(**SMALL))
    model.fit(X, Y_MULTI)
    assert model[-1].out_activation_ == "softmax"
    labels = _check_classifier(run, model, dtype)
    assert set(labels) == {"a", "b", "c"}


@pytest.mark.parametrize("dtype", DTYPES)
def test_multilabel(run, dtype):
    model = make_pipeline(StandardScaler(), BackpropClassifier(**SMALL))
    model.fit(X, Y_LABELS)
    assert model[-1].out_activation_ == "logistic"
    labels = _check_classifier(run, model, dtype)
    assert labels.shape == Y_LABELS.shape and labels.dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES)
def test_regressor_outputs(run, dtype):
    for y in (Y_REG, Y_REG[:, 0]):
        model = make_pipeline(StandardScaler(), BackpropRegressor(**SMALL)).fit(X, y)
        _check_regressor(run, model, dtype)
    poisson = BackpropRegressor(**SMALL, loss="poisson")
    model = make_pipeline(StandardScaler(), poisson).fit(X, Y_COUNTS)
    assert model[-1].out_activation_ == "exp"
    _check_regressor(run, model, dtype)


def test_float_and_boolean_labels(run):
    # Integral float labels and booleans become int64 labels, as in skl2onnx.
    for y in ((Y_BINARY == 7) * 2.0, Y_BINARY == 7):
        model = BackpropClassifier(**SMALL).fit(Z, y)
        labels = _check_classifier(run, model, np.float64, X=Z)
        assert labels.dtype == np.int64
        assert set(labels) == set(model.classes_.astype(np.int64))


def test_zipmap(run):
    model = make_pipeline(StandardScaler(), BackpropClassifier(**SMALL))
    model.fit(X, Y_MULTI)
    Xf = X.astype(np.float32)
    (labels, dicts), _ = run(model, Xf)
    proba = model.predict_proba(Xf)
    assert [sorted(d) for d in dicts] == [["a", "b", "c"]] * len(X)
    table = np.array([[d[c] for c in model.classes_] for d in dicts])
    _assert_close(table.astype(np.float32), proba, np.float32)


def test_zipmap_needs_float32(run):
    model = BackpropClassifier(**SMALL).fit(Z, Y_BINARY)
    with pytest.raises(ValueError, match="zipmap': False"):
        run(model, Z)


def test_options_nocl_and_class_labels(run):
    model = BackpropClassifier(**SMALL).fit(Z, Y_MULTI)
    labels = _check_classifier(run, model, np.float64, X=Z)
    (indices, _), _ = run(model, Z, {id(model): {"zipmap": False, "nocl": True}})
    np.testing.assert_array_equal(model.classes_[indices], labels)
    options = {id(model): {"zipmap": False, "output_class_labels": True}}
    (_, _, classes), _ = run(model, Z, options)
    np.testing.assert_array_equal(classes, model.classes_)


@pytest.mark.parametrize("dtype", DTYPES)
def test_opsets(run, dtype):
    # GELU is an ONNX operator from opset 20 on, built from Erf before (and
    # from elementary operators in float64 at any opset).
    model = BackpropRegressor(**SMALL, activation="gelu").fit(Z, Y_REG)
    for opset, float_op in [(9, "Erf"), (13, "Erf"), (20, "Gelu")]:
        _, onx = run(model, Z.astype(dtype), target_opset=opset)
        ops = {node.op_type for node in onx.graph.node}
        assert ({"Erf", "Gelu"} & ops) == (set() if dtype == np.float64 else {float_op})
        _check_regressor(run, model, dtype, X=Z, target_opset=opset)
    with pytest.raises(ValueError, match="opset 9 or later"):
        run(model, Z.astype(dtype), target_opset=8)


def test_missing_skl2onnx(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r'pip install "skbackprop\[onnx\]"'):
        register_onnx_converters()


def test_refusals(run):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        run(BackpropRegressor(), Z)
    model = BackpropRegressor(**SMALL).fit(Z, Y_REG)
    with pytest.raises(RuntimeError, match="wrong type"):
        run(model, np.round(Z).astype(np.int64))
