"""ONNX export through skl2onnx: converters for the two estimators.

:func:`register_onnx_converters` registers them with skl2onnx, after which
``skl2onnx.to_onnx`` converts a fitted estimator, or a pipeline holding one,
like any scikit-learn model.  skl2onnx and onnx are imported only when that
function runs: ``import skbackprop`` stays as fast as before and works
without them.

The classifier follows skl2onnx's conventions for classifiers (those of its
``MLPClassifier`` converter): two outputs, the labels and the probabilities,
the latter as a list of dicts (ZipMap) unless the option ``zipmap`` is
``False``; the options ``zipmap``, ``nocl`` and ``output_class_labels``.
The regressor has one output, ``variable``, of shape ``(n_samples,
n_outputs)``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skbackprop._classes import BackpropClassifier, BackpropRegressor
from skbackprop._onnx_graph import INT64, MIN_OPSET, Graph, forward

# The options of skl2onnx's MLPClassifier converter.
CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}
# Aliases in skl2onnx's registry, library name first (as "LightGbmLGBMClassifier").
CLASSIFIER_ALIAS = "SkbackpropBackpropClassifier"
REGRESSOR_ALIAS = "SkbackpropBackpropRegressor"


def register_onnx_converters():
    """Register the ONNX converters of both estimators with skl2onnx.

    After this call, :func:`skl2onnx.to_onnx` converts a fitted
    :class:`BackpropClassifier` or :class:`BackpropRegressor`, or any
    scikit-learn pipeline that holds one, into an ONNX graph that
    onnxruntime runs.  Calling it again is harmless.  Needs the ``onnx``
    extra: ``pip install "skbackprop[onnx]"``.

    The graph computes in the dtype of the input declared to skl2onnx:
    float32 for ``FloatTensorType`` (``X[:1]`` of dtype float32), float64
    for ``DoubleTensorType``.  The classifier has skl2onnx's classifier
    outputs (labels, then probabilities; pass ``options={id(model):
    {"zipmap": False}}`` to ``to_onnx`` for a probability matrix instead of
    a list of dicts), the regressor one output of shape ``(n_samples,
    n_outputs)``.  ``predict(X, return_std=True)`` is not exported.  The
    graphs need opset 9 or later.

    Raises
    ------
    ImportError
        If skl2onnx is not installed.

    See Also
    --------
    skl2onnx.update_registered_converter : The registration used here.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbackprop import BackpropRegressor, register_onnx_converters
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> model = make_pipeline(StandardScaler(), BackpropRegressor((5,)))
    >>> model = model.fit(X, np.sin(3 * X).ravel())
    >>> register_onnx_converters()  # doctest: +SKIP
    >>> from skl2onnx import to_onnx  # doctest: +SKIP
    >>> onx = to_onnx(model, X[:1].astype(np.float32))  # doctest: +SKIP
    >>> import onnxruntime as ort  # doctest: +SKIP
    >>> session = ort.InferenceSession(onx.SerializeToString())  # doctest: +SKIP
    >>> session.run(None, {"X": X.astype(np.float32)})[0].shape  # doctest: +SKIP
    (40, 1)
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError as e:
        raise ImportError(
            "register_onnx_converters needs skl2onnx, onnx and onnxruntime: "
            'pip install "skbackprop[onnx]".'
        ) from e
    # With the option zipmap declared and no parser given, skl2onnx parses the
    # classifier with its own classifier parser (labels, probabilities,
    # ZipMap); the regressor gets its default parser, one output.
    update_registered_converter(
        BackpropClassifier,
        CLASSIFIER_ALIAS,
        _classifier_shapes,
        _convert_classifier,
        options=CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        BackpropRegressor, REGRESSOR_ALIAS, _regressor_shapes, _convert_regressor
    )


# -- shape calculators -----------------------------------------------------------
def _check_operator(operator):
    """The input is one float tensor; the estimator is fitted.  Returns the
    estimator and the first dimension of the input."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )

    check_input_and_output_numbers(
        operator, input_count_range=1, output_count_range=[1, 2]
    )
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    est = operator.raw_operator
    check_is_fitted(est)
    return est, operator.inputs[0].get_first_dimension()


def _multilabel(est):
    return est._label_binarizer.y_type_ == "multilabel-indicator"


def _class_labels(scope, est):
    """The class labels as stored in the graph: UTF-8 bytes or int64.

    Strings stay strings; other labels are integers, booleans or floats with
    integral values (a classifier refuses continuous targets) and become
    int64, as in skl2onnx.  The option ``nocl`` replaces them with
    ``0..n_classes-1``.
    """
    from skl2onnx.common.utils_classifier import get_label_classes

    classes = np.asarray(get_label_classes(scope, est))
    if all(isinstance(c, str) for c in classes):
        return np.array([c.encode("utf-8") for c in classes], dtype=object)
    return classes.astype(np.int64)


def _classifier_shapes(operator):
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        Int64TensorType,
        StringTensorType,
    )

    est, N = _check_operator(operator)
    zipmap = operator.scope_inst.get_options(est, {"zipmap": True})["zipmap"]
    if zipmap is True and isinstance(operator.inputs[0].type, DoubleTensorType):
        # Otherwise onnxruntime refuses the graph when it loads it.
        raise ValueError(
            "ZipMap, the ONNX-ML operator behind the option zipmap=True (the "
            "default), takes float32 probabilities only. For float64 "
            "probabilities, convert with options={id(model): {'zipmap': False}} "
            "(or 'columns')."
        )
    n_outputs = est.coefs_[-1].shape[1]
    if _multilabel(est):
        # An indicator matrix, as predict returns.
        operator.outputs[0].type = Int64TensorType([N, n_outputs])
        n_columns = n_outputs
    else:
        classes = _class_labels(operator.scope_inst, est)
        label_type = StringTensorType if classes.dtype == object else Int64TensorType
        operator.outputs[0].type = label_type([N])
        n_columns = len(classes)
    operator.outputs[1].type = operator.inputs[0].type.__class__([N, n_columns])


def _regressor_shapes(operator):
    est, N = _check_operator(operator)
    n_outputs = est.coefs_[-1].shape[1]
    operator.outputs[0].type = operator.inputs[0].type.__class__([N, n_outputs])


# -- converters ------------------------------------------------------------------
def _graph(scope, operator, container):
    from skl2onnx.common.data_types import DoubleTensorType

    if container.target_opset < MIN_OPSET:
        raise ValueError(
            f"The ONNX converters of skbackprop need opset {MIN_OPSET} or later "
            f"(Where, Erf, broadcasting Max and Min); target_opset is "
            f"{container.target_opset}."
        )
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    return Graph(scope, container, double)


def _convert_regressor(scope, operator, container):
    est = operator.raw_operator
    g = _graph(scope, operator, container)
    A = forward(g, est, operator.inputs[0].full_name)
    g.op("Identity", A, output=operator.outputs[0].full_name)


def _convert_classifier(scope, operator, container):
    """Labels as ``predict`` derives them, probabilities as ``predict_proba``."""
    est = operator.raw_operator
    g = _graph(scope, operator, container)
    A = forward(g, est, operator.inputs[0].full_name)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    y_type = est._label_binarizer.y_type_

    # Labels, as LabelBinarizer.inverse_transform: a > 0.5 for logistic
    # outputs (one column when binary), the first largest column otherwise.
    if y_type == "multilabel-indicator":
        g.op("Cast", g.op("Greater", A, g.const(0.5)), output=label, to=INT64)
    else:
        if y_type == "binary":
            positive = g.op("Cast", g.op("Greater", A, g.const(0.5)), to=INT64)
            index = g.op("Reshape", positive, g.const([-1], np.int64))
        else:
            index = g.op("ArgMax", A, axis=1, keepdims=0)
        classes = _class_labels(scope, est)
        g.op("Gather", g.const(classes, classes.dtype), index, output=label, axis=0)

    # Probabilities, as _targets.probabilities: logistic outputs kept inside
    # the open interval (0, 1); [1 - p, p] for binary targets.
    P = A
    if est.out_activation_ == "logistic":
        tiny, below_one = np.finfo(g.dtype).tiny, np.nextafter(g.dtype.type(1), 0)
        P = g.op("Min", g.op("Max", A, g.const(tiny)), g.const(below_one))
        if y_type == "binary":
            P = g.op("Concat", g.op("Sub", g.const(1), P), P, axis=1)
    g.op("Identity", P, output=proba)
