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

import uuid

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    column_or_1d,
)

from skbackprop._training.dask import DaskObjective
from skbackprop._training.objective import scaled_alpha, weight_scale


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - only without Dask
        raise ImportError(
            "Dask input needs dask: pip install 'skbackprop[dask]'."
        ) from exc
    return dask, da


# -- conversion and validation ---------------------------------------------------
def _as_dask_array(a, name, rows=None, lengths=True):
    """``a`` as a Dask array with known row chunks (aligned to ``rows``).

    ``lengths=False`` leaves unknown row chunks unknown (lazy prediction).
    """
    dask, da = _require_dask()
    if hasattr(a, "to_dask_array"):  # Dask DataFrame or Series
        a = a.to_dask_array(lengths=True if lengths else None)
    elif not isinstance(a, da.Array):
        if dask.is_dask_collection(a):
            raise TypeError(
                f"{name} must be a Dask array, DataFrame or Series, got "
                f"{type(a).__name__}."
            )
        a = np.asarray(a)
        if rows is None:
            return da.from_array(a)
        if a.ndim == 0 or a.shape[0] != sum(rows):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{sum(rows)}, {a.shape[0] if a.ndim else 0}] (X and {name})."
            )
        return da.from_array(a, chunks=(rows,) + a.shape[1:])
    if lengths and any(np.isnan(c) for c in a.chunks[0]):
        a = a.compute_chunk_sizes()
    if rows is not None:
        if a.shape[0] != sum(rows):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{sum(rows)}, {a.shape[0]}] (X and {name})."
            )
        if a.chunks[0] != rows:
            a = a.rechunk({0: rows})
    if a.ndim == 2 and a.numblocks[1] > 1:
        a = a.rechunk({1: -1})
    return a


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _check_X(est, X, reset, lengths=True):
    """``X`` as a 2-D floating Dask array, with feature names and count checked."""
    # A Dask DataFrame's _meta is an empty pandas DataFrame with its columns.
    _check_feature_names(est, getattr(X, "_meta", X), reset=reset)
    X = _as_dask_array(X, "X", lengths=lengths)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional Dask array for X, got {X.ndim} dimension(s)."
        )
    if X.shape[1] < 1:
        raise ValueError("X has 0 features; at least 1 is required.")
    if X.dtype.kind == "c":
        raise ValueError(
            "Complex data not supported: X is complex; the network needs real inputs."
        )
    _check_n_features(est, X, reset=reset)
    if 0 in X.chunks[0] and X.shape[0] > 0:
        # Empty blocks carry nothing, and some of Dask's reductions fail on them.
        X = X.rechunk({0: tuple(c for c in X.chunks[0] if c)})
    dtype = _float_dtype(X.dtype)
    return X.astype(dtype) if X.dtype != dtype else X


def _column_or_1d(y):
    """A column vector as 1-D, with scikit-learn's warning (lazily)."""
    if y.ndim == 2 and y.shape[1] == 1:
        column_or_1d(np.empty((0, 1)), warn=True)
        return y[:, 0]
    return y


def _unsupported(est, n_samples):
    """Settings that need the data on the client: refuse them clearly."""
    if isinstance(est.alpha, str):
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
    dask, da = _require_dask()
    if y.ndim == 1:
        classes, counts = dask.compute(*da.unique(y, return_counts=True))
        target_type = type_of_target(classes, input_name="y")
        labels = classes
    elif y.ndim == 2:
        values = da.unique(y).compute()
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
    dask, da = _require_dask()
    if y.dtype.kind not in "fiub":
        y = y.astype(np.float64)
    finite, low, high = dask.compute(da.isfinite(y).all(), y.min(), y.max())
    if not finite:
        raise ValueError("Input y contains NaN or infinity.")
    est._fit_targets(np.array([low, high]), "continuous", incremental)
    return y, None, 1.0


def _check_sample_weight(sample_weight, rows, dtype):
    """Weights as a 1-D Dask array, checked finite and non-negative remotely.

    Returns the weights in ``dtype`` divided by a power of two near the
    largest, and that power of two (as the in-memory backend does).
    """
    dask, da = _require_dask()
    sw = _as_dask_array(sample_weight, "sample_weight", rows=rows)
    if sw.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got {sw.ndim} dimensions.")
    if sw.dtype.kind == "c":
        raise ValueError("Complex data not supported: sample_weight is complex.")
    # Checked and scaled in float64, as in memory: 1e308 is a valid weight.
    sw = sw.astype(np.float64)
    finite, minimum, maximum = dask.compute(da.isfinite(sw).all(), sw.min(), sw.max())
    if not finite:
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if minimum < 0:
        raise ValueError("Negative values in data passed to `sample_weight`.")
    scale = weight_scale(np.array([maximum]))
    return (sw / scale).astype(dtype), scale


_GRID = np.linspace(0, 100, 201)


def _target_scale(Y):
    """The targets' robust scale (see :func:`~skbackprop._engine.losses.target_scale`)
    from Dask's approximate percentiles: 1.4826 times the median absolute
    deviation of each output, averaged; the sample weights are not used."""
    dask, da = _require_dask()
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
        dask, da = _require_dask()
        X = _check_X(est, X, reset=first_pass)
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                "of 1 is required."
            )
        _unsupported(est, X.shape[0])
        rows = X.chunks[0]
        dtype = X.dtype
        y = _as_dask_array(y, "y", rows=rows)
        if y.dtype.kind == "c":
            raise ValueError("Complex data not supported: y is complex.")
        if sample_weight is not None:
            sample_weight = _as_dask_array(sample_weight, "sample_weight", rows=rows)
        # Persist the raw data once; every check below reads the workers' copy.
        X, y, sample_weight = dask.persist(X, y, sample_weight)
        if not da.isfinite(X).all().compute():
            raise ValueError("Input X contains NaN or infinity.")
        y = _column_or_1d(y)
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
            sample_weight, c = _check_sample_weight(sample_weight, rows, dtype)
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
        alpha = scaled_alpha(est.alpha, scale)
        objective = DaskObjective(net, X, Y, sample_weight, weight_sum, alpha)
        return objective, None

    def predictor(self, est, X):
        return _DaskPredictor(est, X)

    def rows(self, objective):
        """None: the Laplace approximation needs the rows in memory."""
        return None


def _forward_block(X, net, params, like, transform, args):
    if X.shape[0] == 0:
        return like[:0]
    if not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity.")
    return transform(net.forward(params, X), *args)


class _DaskPredictor:
    """Lazy outputs of a fitted estimator on a Dask ``X``, block by block."""

    def __init__(self, est, X):
        self.est = est
        self.X = _check_X(est, X, reset=False, lengths=False)

    def apply(self, transform, args=()):
        """A lazy Dask array of ``transform(A(L), *args)``, block by block."""
        dask, _ = _require_dask()
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
        a few sums reach the client.
        """
        dask, da = _require_dask()
        est = self.est
        transform, args = est._output_transform("predict")
        if any(np.isnan(c) for c in self.X.chunks[0]):
            self.X = self.X.compute_chunk_sizes()
        y_pred = self.apply(transform, args)
        rows = y_pred.chunks[0]
        y = _as_dask_array(y, "y", rows=rows)
        if y.ndim == 2 and y_pred.ndim == 1 and y.shape[1] == 1:
            y = y[:, 0]
        w = (
            da.ones(y.shape[0], chunks=(rows,))
            if sample_weight is None
            else _as_dask_array(sample_weight, "sample_weight", rows=rows)
        )
        if is_classifier(est):
            correct = y_pred == y
            if correct.ndim == 2:  # multilabel: subset accuracy
                correct = correct.all(axis=1)
            num, den = dask.compute((w * correct).sum(), w.sum())
            return float(num / den)
        y2 = y.astype(np.float64).reshape(y.shape[0], -1)
        p2 = y_pred.astype(np.float64).reshape(y.shape[0], -1)
        w2 = w.astype(np.float64)[:, None]
        mean = (w2 * y2).sum(axis=0) / w2.sum()
        num, den = dask.compute(
            (w2 * (y2 - p2) ** 2).sum(axis=0), (w2 * (y2 - mean) ** 2).sum(axis=0)
        )
        # r2_score's uniform average, with its force_finite conventions.
        scores = np.ones(num.shape[0])
        valid = (den != 0) & (num != 0)
        scores[valid] = 1 - num[valid] / den[valid]
        scores[(num != 0) & (den == 0)] = 0.0
        return float(scores.mean())


DASK = Dask()
