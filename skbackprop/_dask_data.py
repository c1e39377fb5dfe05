"""Dask input: validation on the cluster, the objective, lazy prediction.

The Dask backend of :mod:`skbackprop._data`.  Per fit, the data (``X``,
the encoded targets ``Y`` and the sample weights) are validated with
reductions on the workers and persisted there once; only small summaries
(the unique labels of a classifier, a regressor's smallest target) reach
the client, where the estimator's own hooks check them.  Prediction is lazy:
each block runs the engine's forward pass and the estimator's output
transform.

Dask is optional: this module is imported only when a Dask collection is
passed, and imports Dask inside its functions.
"""

import time
import uuid
import warnings
from numbers import Number

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics._classification import _check_targets
from sklearn.metrics._regression import _check_reg_targets_with_floating_dtype
from sklearn.utils._array_api import get_namespace
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight, assert_all_finite

from skbackprop._dask_checks import (
    as_dask_array,
    check_finite,
    check_target_shape,
    check_X,
    column_as_1d,
    require_dask,
    sample_weight_array,
)
from skbackprop._training.dask import DaskObjective
from skbackprop._training.objective import scaled_alpha, weight_scale


def _unsupported(est, n_samples):
    """Settings that need the data on the client: refuse them clearly."""
    if isinstance(est._alpha_in_use(), str):
        raise ValueError(
            f"alpha={est.alpha!r} is not supported for Dask input: its posterior "
            "curvature is formed in memory. Fit on a sample in memory with "
            "alpha='evidence' to choose alpha, then fit the Dask data with that "
            "alpha_."
        )
    if est.early_stopping:
        raise ValueError(
            "early_stopping=True (with validation_fraction or with X_val) is not "
            "supported for Dask input: the validation split would shuffle the "
            "data across the cluster, and a validation set is scored in memory. "
            "Hold out a validation set yourself (e.g. dask_ml.model_selection."
            "train_test_split) and use callback to score it."
        )
    if (
        est._solver().mini_batch
        and est.batch_size is not None
        and est.batch_size < n_samples
    ):
        raise ValueError(
            f"Mini-batch gradient descent (batch_size={est.batch_size}) is not "
            "supported for Dask input: it trains on the full batch, summed over "
            "the blocks. Set batch_size=None, or use a SciPy solver."
        )


def _lookup_weights(y, classes, weights):
    """One block of per-row class weights."""
    return weights[np.searchsorted(classes, y)]


def _classifier_summary(est, y, incremental):
    """Check the labels with the estimator's hook from their unique values.

    Returns ``y``, the per-row class weights (or None) divided by a power of
    two near the largest, and that power of two (see
    :func:`~skbackprop._training.objective.weight_scale`): only the unique
    labels and their counts travel to the client.
    """
    dask, da = require_dask()
    if y.ndim == 1:
        classes, counts = dask.compute(*da.unique(y, return_counts=True))
        assert_all_finite(classes, input_name="y")  # "Input y contains NaN."
        target_type = type_of_target(classes, input_name="y")
        labels = classes
    elif y.ndim == 2:
        values = da.unique(y).compute()
        assert_all_finite(values, input_name="y")
        is_indicator = y.shape[1] > 1 and set(values.tolist()) <= {0, 1}
        target_type = "multilabel-indicator" if is_indicator else "unknown"
        classes, counts = np.arange(y.shape[1]), None
        labels = np.eye(y.shape[1], dtype=int)
    else:
        target_type, labels, classes, counts = "unknown", None, None, None
    est._fit_targets(labels, target_type, incremental)
    if est.class_weight is None:
        return y, None, 1.0
    if target_type == "multilabel-indicator":
        raise ValueError(
            "class_weight is not supported for multilabel Dask targets; "
            "pass the weights as sample_weight."
        )
    # compute_sample_weight's numbers, from the counts instead of y.
    dtype = np.float64
    weights = compute_class_weight(
        est.class_weight,
        classes=classes,
        y=classes,
        sample_weight=counts.astype(np.float64),
    ).astype(dtype)
    scale = weight_scale(weights)
    weights = weights / scale
    return (
        y,
        y.map_blocks(
            _lookup_weights, classes, weights, dtype=dtype, meta=np.empty(0, dtype)
        ),
        scale,
    )


def _regressor_summary(est, y, incremental):
    """Check the targets with the estimator's hook from their extremes."""
    dask, da = require_dask()
    if y.dtype.kind not in "fiub":
        y = y.astype(np.float64)
    check_finite(y, "y")
    low, high = dask.compute(y.min(), y.max())
    est._fit_targets(np.array([low, high]), "continuous", incremental)
    return y, None, 1.0


def _fit_weights(sample_weight, rows, dtype):
    """Weights as a 1-D Dask array, checked finite and non-negative remotely.

    Returns the weights in ``dtype`` divided by a power of two near the
    largest, and that power of two (as the in-memory backend does).
    """
    dask, da = require_dask()
    # Checked and scaled in float64, as in memory: 1e308 is a valid weight.
    sw = sample_weight_array(sample_weight, rows)
    check_finite(sw, "sample_weight")
    minimum, maximum = dask.compute(sw.min(), sw.max())
    if minimum < 0:
        raise ValueError("Negative values in data passed to `sample_weight`.")
    scale = weight_scale(np.array([maximum]))
    return (sw / scale).astype(dtype), scale


_GRID = np.linspace(0, 100, 201)


def _target_scale(Y):
    """The targets' robust scale (see :func:`~skbackprop._engine.losses.target_scale`)
    from Dask's approximate percentiles: 1.4826 times the median absolute
    deviation of each output, averaged; the sample weights are not used."""
    dask, da = require_dask()
    scales = []
    for k in range(Y.shape[1]):
        y = Y[:, k].astype(np.float64)
        # Dask merges the blocks' percentiles: asked for the median alone
        # it was off by a third of a scale on 150 rows in 4 blocks; read off
        # a grid of 201 percentiles it is within a hundredth.
        median = float(da.percentile(y, _GRID).compute()[100])
        mad = 1.4826 * float(da.percentile(da.fabs(y - median), _GRID).compute()[100])
        if not mad > 0:
            mad = float(y.std().compute())
        scales.append(mad if mad > 0 and np.isfinite(mad) else 1.0)
    return float(np.mean(scales))


def _encode_block(y, encode, args, dtype):
    return encode(y, *args, dtype=dtype)


class Dask:
    """Dask arrays, DataFrames and Series."""

    def objective(self, est, X, y, sample_weight, hidden, incremental, first_pass):
        """Validate Dask data, persist it on the workers, bind it to a network.

        Validation runs as reductions on the cluster; only their results
        (and the unique labels of a classifier) reach the client.
        """
        dask, da = require_dask()
        start = time.perf_counter()
        X = check_X(est, X, reset=first_pass)
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                "of 1 is required."
            )
        _unsupported(est, X.shape[0])
        rows = X.chunks[0]
        if est.verbose:
            # The waits before the first iteration's line can be long.
            print(
                f"Dask input: {X.shape[0]} rows in {len(rows)} blocks; validating "
                "and persisting them on the workers...",
                flush=True,
            )
        dtype = X.dtype
        y = as_dask_array(y, "y", rows=rows)
        check_target_shape(est, y)
        if y.dtype.kind == "c":
            raise ValueError("Complex data not supported: y is complex.")
        if sample_weight is not None:
            sample_weight = sample_weight_array(sample_weight, rows)
        # Persist the raw data once; every check below reads the workers' copy.
        X, y, sample_weight = dask.persist(X, y, sample_weight)
        check_finite(X, "X", est)
        y = column_as_1d(y)
        summarize = _classifier_summary if is_classifier(est) else _regressor_summary
        y, row_weights, scale = summarize(est, y, incremental)
        encode, args = est._target_encoding()
        like = encode(np.empty((0,) + y.shape[1:], y.dtype), *args, dtype=dtype)
        Y = y.map_blocks(
            _encode_block,
            encode,
            args,
            dtype,
            dtype=dtype,
            chunks=(y.chunks[0], (like.shape[1],)),
            new_axis=1 if y.ndim == 1 else None,
            meta=like,
        )
        if sample_weight is not None:
            sample_weight, c = _fit_weights(sample_weight, rows, dtype)
            scale *= c
        if row_weights is not None:
            row_weights = row_weights.astype(dtype)
            sample_weight = (
                row_weights if sample_weight is None else sample_weight * row_weights
            )
        Y, sample_weight = dask.persist(Y, sample_weight)
        if sample_weight is None:
            weight_sum = float(X.shape[0])
        else:
            weight_sum = float(sample_weight.sum().compute())
            if not weight_sum > 0:
                raise ValueError(
                    "The sample weights (times the class weights) sum to zero: "
                    "at least one sample must have a positive weight."
                )
        net = est._network(
            (X.shape[1], *hidden, Y.shape[1]),
            dtype,
            target_scale=lambda: _target_scale(Y),
            keep_loss=incremental and not first_pass,
        )
        alpha = scaled_alpha(est._alpha_in_use(), scale, dtype)
        objective = DaskObjective(net, X, Y, sample_weight, weight_sum, alpha, scale)
        if est.verbose:
            print(
                f"Data ready on the workers after {time.perf_counter() - start:.1f} "
                "s; first evaluation of the cost on the cluster (it sends the "
                "network to the workers)...",
                flush=True,
            )
        return objective, None

    def predictor(self, est, X):
        return _DaskPredictor(est, X)

    def rows(self, objective):
        """None: the Laplace approximation needs the rows in memory."""
        return None


def _forward_block(X, net, params, like, transform, args, name):
    if X.shape[0] == 0:
        return like[:0]
    assert_all_finite(X, input_name="X", estimator_name=name)
    return transform(net.forward(params, X), *args)


def _accuracy_block(y, y_pred, w):
    """``(right, weight, nonzero)`` of one block: its weighted count of right
    predictions, its weights' sum and number of nonzero weights, the block
    checked as :func:`~sklearn.metrics.accuracy_score` checks its input."""
    if y_pred.shape[0] == 0:
        return 0.0, 0.0, 0
    y_type, _, y, y_pred, _ = _check_targets(y, y_pred)
    w = _block_weights(w, y)
    if y_type.startswith("multilabel"):  # subset accuracy
        right = np.asarray((y != y_pred).sum(axis=1)).ravel() == 0
    else:
        right = y == y_pred
    return float(w @ right), float(w.sum()), int(np.count_nonzero(w))


def _r2_block(y, y_pred, w):
    """One block's sums for R^2, checked as :func:`~sklearn.metrics.r2_score`
    checks its input: the weights' sum ``W``, the weighted sums ``S`` and
    ``Q`` of ``y - c`` and its square about the block's mean ``c``, the
    weighted squared error, the number of nonzero weights."""
    if y_pred.shape[0] == 0:
        return None
    xp, _ = get_namespace(y, y_pred)
    _, y, y_pred, _, _ = _check_reg_targets_with_floating_dtype(
        y, y_pred, None, "uniform_average", xp=xp
    )
    w = _block_weights(w, y)
    c = y.mean(axis=0)
    r = y - c
    return w.sum(), w @ r, w @ r**2, c, w @ (y - y_pred) ** 2, np.count_nonzero(w)


def _block_weights(w, y):
    if w is None:
        return np.ones(y.shape[0])
    # The total may be positive though this block's weights are all zero.
    return _check_sample_weight(w, y, allow_all_zero_weights=True)


def _r2(parts):
    """R^2 from the blocks' sums (:func:`_r2_block`), about the total mean:
    ``sum w (y - m)^2 = sum_b Q_b - 2 d_b S_b + W_b d_b^2``, ``d_b = m - c_b``."""
    W = sum(p[0] for p in parts)
    mean = sum(p[0] * p[3] + p[1] for p in parts) / W
    d = [mean - p[3] for p in parts]
    den = sum(
        p[2] - 2 * d_b * p[1] + p[0] * d_b**2 for p, d_b in zip(parts, d, strict=True)
    )
    num = sum(p[4] for p in parts)
    # r2_score's uniform average, with its force_finite conventions.
    scores = np.ones(num.shape[0])
    valid = (den != 0) & (num != 0)
    scores[valid] = 1 - num[valid] / den[valid]
    scores[(num != 0) & (den == 0)] = 0.0
    return float(scores.mean())


class _DaskPredictor:
    """Lazy outputs of a fitted estimator on a Dask ``X``, block by block."""

    def __init__(self, est, X):
        self.est = est
        self.X = check_X(est, X, reset=False, lengths=False)

    def apply(self, transform, args=()):
        """A lazy Dask array of ``transform(A(L), *args)``, block by block."""
        dask, _ = require_dask()
        est, X = self.est, self.X
        dtype = np.result_type(X.dtype, est.coefs_[0].dtype)
        net = est._prediction_network(dtype)
        params = dask.delayed(
            (est.coefs_, est.intercepts_),
            name=f"skbackprop-params-{uuid.uuid4().hex}",
        )
        like = transform(np.zeros((1, net.layer_sizes[-1]), dtype), *args)
        return X.map_blocks(
            _forward_block,
            net,
            params,
            like,
            transform,
            args,
            type(est).__name__,
            dtype=like.dtype,
            chunks=(X.chunks[0],) + tuple((n,) for n in like.shape[1:]),
            drop_axis=None if like.ndim == 2 else 1,
            meta=np.empty((0,) * like.ndim, like.dtype),
        )

    def rows(self):
        raise ValueError(
            "return_std=True is not supported for Dask input: compute X into "
            "memory (X.compute()) first."
        )

    def score(self, y, sample_weight):
        """Accuracy or R^2 computed on the cluster, returned as a float.

        As dask-ml's scorers do: the predictions stay on the workers and only
        a few sums per block reach the client.  Each block of ``y`` and the
        weights is checked as scikit-learn's metric checks them in memory,
        with the same messages; the checks of the whole (shapes, weights
        not all zero) run on the client.
        """
        dask, _ = require_dask()
        est = self.est
        if any(np.isnan(c) for c in self.X.chunks[0]):
            self.X = self.X.compute_chunk_sizes()
        if self.X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={self.X.shape}) while a "
                f"minimum of 1 is required by {type(est).__name__}."
            )
        y_pred = self.apply(*est._output_transform("predict"))
        rows = y_pred.chunks[0]
        y = as_dask_array(y, "y", rows=rows)
        if isinstance(sample_weight, Number):
            # As in memory, where scikit-learn's metrics refuse a number.
            est._score_predictions(np.zeros(2), np.zeros(2), sample_weight)
        classifier = is_classifier(est)
        if not classifier:
            check_target_shape(est, y, by=False)
        w = None if sample_weight is None else sample_weight_array(sample_weight, rows)
        blocks = [a.to_delayed().ravel() for a in (y, y_pred)]
        blocks.append([None] * len(rows) if w is None else w.to_delayed().ravel())
        block = dask.delayed(_accuracy_block if classifier else _r2_block)
        parts = dask.compute(*(block(*b) for b in zip(*blocks, strict=True)))
        parts = [p for p in parts if p is not None]
        if not sum(p[-1] for p in parts):
            raise ValueError(
                "Sample weights must contain at least one non-zero number."
            )
        if classifier:
            return float(sum(p[0] for p in parts) / sum(p[1] for p in parts))
        if len(y) < 2:
            warnings.warn(
                "R^2 score is not well-defined with less than two samples.",
                UndefinedMetricWarning,
                stacklevel=3,
            )
            return float("nan")
        return _r2(parts)


DASK = Dask()
