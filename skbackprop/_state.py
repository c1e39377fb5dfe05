"""Consistency of a fitted estimator's state: what prediction relies on.

A fitted estimator's attributes must agree with each other: ``coefs_`` and
``intercepts_`` chain ``n_features_in_`` to ``n_outputs_``, the output
activation matches the targets, ``classes_`` matches the label encoding.
:meth:`BaseBackprop.fit` only ever writes such a state, but a file edited by
hand, or attributes set after ``fit``, can break it; prediction would then
return garbage (a bias of shape ``(1,)`` broadcasts silently) or fail deep in
NumPy.  :func:`check_fitted_state` names the first field that is wrong.

* Every prediction runs the structural checks and validates the parameters
  it uses (``activation``, ``chunk_size``): about 15 microseconds.  So does
  a continued fit (``warm_start``, ``partial_fit``) for its starting state.
* Loading (pickle, joblib, skops) runs them all: the parameters' types and
  ranges, finite weights, the gradient-descent state that ``partial_fit``
  continues from, and the posterior's attributes (``alpha_``, the evidence's
  record, ``noise_variance_`` and the Laplace factor of the error bars).
* ``predict(X, return_std=True)`` checks the shapes of the error bars'
  state first.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, is_regressor
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import validate_parameter_constraints

from skbackprop._engine.losses import Loss
from skbackprop._engine.losses.matched import BY_OUTPUT
from skbackprop._training.solvers.gd import GradientDescent

# The parameters prediction reads.
PREDICTION_PARAMS = ("activation", "chunk_size")

_TARGET_TYPES = ("binary", "multiclass", "multilabel-indicator")
_FLOATS = (np.float32, np.float64)


class InconsistentStateError(ValueError):
    """A fitted estimator's attributes disagree (a corrupt or edited state)."""


def check_prediction_params(est):
    """Validate the parameters prediction uses against their constraints."""
    validate_parameter_constraints(
        {name: est._parameter_constraints[name] for name in PREDICTION_PARAMS},
        {name: getattr(est, name) for name in PREDICTION_PARAMS},
        caller_name=type(est).__name__,
    )


def check_fitted_state(est, full=False, posterior=False):
    """Raise :class:`InconsistentStateError` naming the first wrong field.

    The structural checks (shapes, dtypes, output activation, classes) are
    cheap and run before every prediction; ``posterior=True`` adds the
    shapes of the error bars' state (``return_std``).  ``full=True``
    (loading) also checks that the weights are finite, every parameter
    against its constraint, the recorded training history's types, the
    gradient-descent state and the posterior's attributes and values.
    """
    name = type(est).__name__

    def fail(field, problem):
        raise InconsistentStateError(f"{name}.{field} {problem}.")

    n_features = getattr(est, "n_features_in_", None)
    if not _is_int(n_features) or n_features < 1:
        fail("n_features_in_", f"must be a positive integer, got {n_features!r}")
    coefs = _array_list(est, "coefs_", 2, fail)
    intercepts = _array_list(est, "intercepts_", 1, fail)
    if len(intercepts) != len(coefs):
        fail(
            "intercepts_",
            f"has {len(intercepts)} arrays for {len(coefs)} weight matrices",
        )
    dtype = coefs[0].dtype
    n_in = n_features
    for l, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        if W.dtype != dtype or b.dtype != dtype:
            fail(f"coefs_[{l}]", f"mixes dtypes {dtype}, {W.dtype} and {b.dtype}")
        if W.shape[0] != n_in or W.shape[1] < 1:
            source = "n_features_in_" if l == 0 else f"coefs_[{l - 1}]"
            fail(
                f"coefs_[{l}]",
                f"has shape {W.shape}, expected ({n_in}, n>=1) after {source}",
            )
        if b.shape != (W.shape[1],):
            fail(f"intercepts_[{l}]", f"has shape {b.shape}, expected {W.shape[1:]}")
        n_in = W.shape[1]
    n_layers = getattr(est, "n_layers_", None)
    if n_layers != len(coefs) + 1 or not _is_int(n_layers):
        fail("n_layers_", f"is {n_layers!r} for {len(coefs)} weight matrices")
    n_outputs = getattr(est, "n_outputs_", None)
    if n_outputs != n_in or not _is_int(n_outputs):
        fail("n_outputs_", f"is {n_outputs!r}, the last layer has {n_in}")
    names = getattr(est, "feature_names_in_", None)
    if names is not None and (
        not isinstance(names, np.ndarray) or names.shape != (n_features,)
    ):
        fail("feature_names_in_", f"must hold {n_features} names")
    classifier = isinstance(est, ClassifierMixin)
    expected = _classifier_output(est, fail) if classifier else None
    activation = getattr(est, "out_activation_", None)
    allowed = (expected,) if expected else ("identity", "exp")
    if activation not in allowed:
        fail("out_activation_", f"is {activation!r}, expected one of {allowed}")
    loss = getattr(est, "loss_function_", None)
    if loss is not None and (
        not isinstance(loss, Loss) or loss.out_activation != activation
    ):
        fail("loss_function_", f"is {loss!r}, not a loss with output {activation!r}")
    n_params = sum(a.size for a in coefs + intercepts)
    if posterior or full:
        _check_error_bars(est, n_params, coefs[-1].shape[0] + 1, full, fail)
    if not full:
        return
    # Every parameter against its constraint, as fit does; one that a file
    # from another version lacks is left to fit (prediction's are required).
    check_prediction_params(est)
    present = {k: v for k, v in vars(est).items() if k in est._parameter_constraints}
    validate_parameter_constraints(
        est._parameter_constraints, present, caller_name=type(est).__name__
    )
    for field, arrays in (("coefs_", coefs), ("intercepts_", intercepts)):
        for l, a in enumerate(arrays):
            if not np.isfinite(a).all():
                fail(f"{field}[{l}]", "holds non-finite values")
    _check_history(est, fail)
    _check_evidence(est, n_params, fail)
    optimizer = getattr(est, "_optimizer", None)
    if optimizer is not None:
        _check_optimizer(optimizer, n_params, dtype, fail)


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _array_list(est, field, ndim, fail):
    arrays = getattr(est, field, None)
    if not isinstance(arrays, list) or not arrays:
        fail(field, f"must be a non-empty list of arrays, got {type(arrays).__name__}")
    for l, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.ndim != ndim or a.dtype not in _FLOATS:
            fail(
                f"{field}[{l}]",
                f"must be a {ndim}-D float32 or float64 array, got "
                f"{getattr(a, 'dtype', type(a).__name__)} of shape {np.shape(a)}",
            )
    return arrays


def _classifier_output(est, fail):
    """The output activation the classifier's targets call for."""
    binarizer = getattr(est, "_label_binarizer", None)
    fitted = ("y_type_", "classes_", "neg_label", "pos_label", "sparse_output")
    if not isinstance(binarizer, LabelBinarizer) or not all(
        hasattr(binarizer, name) for name in fitted
    ):
        fail("_label_binarizer", "must be a fitted LabelBinarizer")
    y_type = binarizer.y_type_
    if y_type not in _TARGET_TYPES:
        fail("_label_binarizer.y_type_", f"is {y_type!r}, not one of {_TARGET_TYPES}")
    if (binarizer.neg_label, binarizer.pos_label, binarizer.sparse_output) != (
        0,
        1,
        False,
    ):
        fail("_label_binarizer", "must encode labels as 0/1 dense indicators")
    classes = getattr(est, "classes_", None)
    if (
        not isinstance(classes, np.ndarray)
        or classes.ndim != 1
        or not np.array_equal(classes, binarizer.classes_)
    ):
        fail("classes_", "must be a 1-D array equal to _label_binarizer.classes_")
    n_classes = len(classes)
    least = {"binary": 2, "multiclass": 3, "multilabel-indicator": 2}[y_type]
    if n_classes < least or (y_type == "binary" and n_classes != 2):
        fail("classes_", f"holds {n_classes} classes for {y_type!r} targets")
    n_outputs = 1 if y_type == "binary" else n_classes
    if est.n_outputs_ != n_outputs:
        fail(
            "n_outputs_",
            f"is {est.n_outputs_!r}; {n_classes} classes of {y_type!r} targets "
            f"need {n_outputs}",
        )
    return "softmax" if y_type == "multiclass" else "logistic"


def _check_history(est, fail):
    n_iter = getattr(est, "n_iter_", None)
    if not _is_int(n_iter) or n_iter < 0:
        fail("n_iter_", f"must be a non-negative integer, got {n_iter!r}")
    loss = getattr(est, "loss_", None)
    if not _is_real(loss):
        fail("loss_", f"must be a number, got {loss!r}")
    curve = getattr(est, "loss_curve_", None)
    if not isinstance(curve, list) or not all(_is_real(v) for v in curve):
        fail("loss_curve_", "must be a list of numbers")


def _check_optimizer(optimizer, n_params, dtype, fail):
    """The gradient-descent state ``partial_fit`` continues from."""
    fields = set(vars(GradientDescent(1.0, "constant", 0.5, 0.0, False)))
    if not isinstance(optimizer, GradientDescent) or set(vars(optimizer)) != fields:
        fail("_optimizer", f"must be a GradientDescent state with {sorted(fields)}")
    o = optimizer
    checks = {
        "learning_rate_init": _is_real(o.learning_rate_init)
        and 0 < o.learning_rate_init < np.inf,
        "eta": _is_real(o.eta) and 0 < o.eta < np.inf,
        "schedule": o.schedule in ("constant", "invscaling", "adaptive"),
        "power_t": _is_real(o.power_t) and 0 <= o.power_t < np.inf,
        "momentum": _is_real(o.momentum) and 0 <= o.momentum < 1,
        "nesterov": isinstance(o.nesterov, bool | np.bool_),
        "t": _is_int(o.t) and o.t >= 0,
        "velocity": o.velocity is None
        or (
            isinstance(o.velocity, np.ndarray)
            and o.velocity.shape == (n_params,)
            and o.velocity.dtype == dtype
            and np.isfinite(o.velocity).all()
        ),
    }
    for field, ok in checks.items():
        if not ok:
            fail(f"_optimizer.{field}", f"is invalid: {getattr(o, field)!r}")


def fitted_loss(est):
    """The loss a fitted estimator was trained with (for a model saved before
    losses were recorded, the loss matched with its output activation)."""
    loss = getattr(est, "loss_function_", None)
    return BY_OUTPUT[est.out_activation_]() if loss is None else loss


def _check_evidence(est, n_params, fail):
    """``alpha_`` and the evidence's record (those present: a file from an
    older version may lack them)."""
    if hasattr(est, "alpha_"):
        alpha = est.alpha_
        n_groups = est.n_features_in_ + est.n_layers_ - 2
        if isinstance(alpha, np.ndarray):
            ok = (
                alpha.shape == (n_groups,)
                and alpha.dtype.kind == "f"
                and bool(np.isfinite(alpha).all() and (alpha >= 0).all())
            )
        else:
            ok = _is_real(alpha) and 0 <= alpha < np.inf
        if not ok:
            fail(
                "alpha_",
                "must be a finite non-negative number, or for alpha='ard' an "
                f"array of {n_groups} of them (n_features_in_ + n_layers_ - 2), "
                f"got {alpha!r}",
            )
    gamma = getattr(est, "n_effective_params_", None)
    if gamma is not None and not (_is_real(gamma) and 0 <= gamma <= n_params):
        fail(
            "n_effective_params_",
            f"must be None or a number in [0, {n_params}], got {gamma!r}",
        )
    curve = getattr(est, "evidence_curve_", None)
    if curve is not None and not (
        isinstance(curve, list) and all(_is_real(v) for v in curve)
    ):
        fail("evidence_curve_", "must be None or a list of numbers")


def _check_error_bars(est, n_params, n_last, full, fail):
    """``noise_variance_`` and the Laplace factor ``_laplace`` of a
    regressor's error bars: shapes always, values with ``full``."""
    if not is_regressor(est):
        return
    noise = getattr(est, "noise_variance_", None)
    if noise is not None and not (_is_real(noise) and 0 <= noise < np.inf):
        fail(
            "noise_variance_",
            f"must be None or a finite non-negative number, got {noise!r}",
        )
    laplace = getattr(est, "_laplace", None)
    if laplace is None:
        return
    keys = {"full": {"kind", "factor"}, "last-layer": {"kind", "factor"}}
    keys["data-space"] = {"kind", "factor", "basis", "scale"}
    if not isinstance(laplace, dict) or keys.get(laplace.get("kind")) != set(laplace):
        fail(
            "_laplace",
            "must be None or a dict {'kind': 'full' or 'last-layer', 'factor': "
            "array}, or {'kind': 'data-space', 'factor', 'basis', 'scale': arrays}",
        )
    L = laplace["factor"]
    if laplace["kind"] == "data-space":
        n = np.shape(L)[0] if np.ndim(L) == 2 else -1
        _check_array(laplace["basis"], "basis", (n_params, n), fail)
        _check_array(laplace["scale"], "scale", (n_params,), fail)
    else:
        n = n_params if laplace["kind"] == "full" else n_last
    _check_array(L, "factor", (n, n), fail)
    if noise is None:
        fail("noise_variance_", "is None, but the error bars (_laplace) need one")
    if full and not (np.isfinite(L).all() and (np.diag(L) > 0).all()):
        fail(
            "_laplace['factor']",
            "must be a Cholesky factor: finite, with a positive diagonal",
        )
    if full and laplace["kind"] == "data-space":
        for key in ("basis", "scale"):
            if not np.isfinite(laplace[key]).all():
                fail(f"_laplace[{key!r}]", "must be finite")


def _check_array(value, key, shape, fail):
    if (
        not isinstance(value, np.ndarray)
        or value.dtype != np.float64
        or value.shape != shape
    ):
        fail(
            f"_laplace[{key!r}]",
            f"must be a float64 array of shape {shape}, got "
            f"{getattr(value, 'dtype', type(value).__name__)} of shape "
            f"{np.shape(value)}",
        )
