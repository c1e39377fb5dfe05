"""Dask input: conversion and the checks that run on the cluster.

The Dask backend (:mod:`skbackprop._dask_data`) validates ``X``, ``y`` and
``sample_weight`` with reductions on the workers and raises the messages
the in-memory path (scikit-learn's ``check_array``, ``_check_sample_weight``
and metrics) raises for the same data: the shapes are checked on the client
from the collections' metadata, the values by a few reductions whose
results, not the data, travel.  Dask is imported inside the functions.
"""

from numbers import Number

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _pandas_dtype_needs_early_conversion,
    assert_all_finite,
    column_or_1d,
)


def require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - only without Dask
        raise ImportError(
            "Dask input needs dask: pip install 'skbackprop[dask]'."
        ) from exc
    return dask, da


def _nullable_as_float(frame):
    """A Dask DataFrame or Series with pandas' nullable numeric columns
    (``Float64``, ``Int64``, ``boolean``) as float64, ``pd.NA`` as NaN:
    what scikit-learn's ``check_array`` does with them in memory."""
    dtypes = list(frame.dtypes) if frame.ndim == 2 else [frame.dtype]
    if any(_pandas_dtype_needs_early_conversion(d) for d in dtypes):
        return frame.astype(np.float64)
    return frame


def as_dask_array(a, name, rows=None, lengths=True):
    """``a`` as a Dask array with known row chunks (aligned to ``rows``).

    ``lengths=False`` leaves unknown row chunks unknown (lazy prediction).
    Axes after the first are one chunk each.
    """
    dask, da = require_dask()
    if hasattr(a, "to_dask_array"):  # Dask DataFrame or Series
        a = _nullable_as_float(a).to_dask_array(lengths=True if lengths else None)
    elif not isinstance(a, da.Array):
        if dask.is_dask_collection(a):
            raise TypeError(
                f"{name} must be a Dask array, DataFrame or Series, got "
                f"{type(a).__name__}."
            )
        # A sparse y (a multilabel indicator matrix) or weights, densified.
        a = a.toarray() if sp.issparse(a) else np.asarray(a)
        _check_not_scalar(a, name)
        if rows is None:
            return da.from_array(a)
        if a.shape[0] != sum(rows):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{sum(rows)}, {a.shape[0]}] (X and {name})."
            )
        return da.from_array(a, chunks=(rows,) + a.shape[1:])
    _check_not_scalar(a, name)
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
    if any(n > 1 for n in a.numblocks[1:]):
        a = a.rechunk({axis: -1 for axis in range(1, a.ndim)})
    return a


def _check_not_scalar(a, name):
    if a.ndim == 0:
        # scikit-learn's message for a 0-d array in memory, naming the input.
        raise TypeError(
            f"{name} should have at least 1 dimension i.e. satisfy "
            f"`len(x.shape) > 0`, got a 0-d array of shape {a.shape} instead."
        )


def float_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def check_X(est, X, reset, lengths=True):
    """``X`` as a 2-D floating Dask array, with feature names and count checked."""
    # A Dask DataFrame's _meta is an empty pandas DataFrame with its columns.
    _check_feature_names(est, getattr(X, "_meta", X), reset=reset)
    X = as_dask_array(X, "X", lengths=lengths)
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
    dtype = float_dtype(X.dtype)
    return X.astype(dtype) if X.dtype != dtype else X


def check_target_shape(est, y, by=True):
    """The shape checks ``check_array`` runs on ``y`` in memory.

    ``by`` names the estimator in the messages, as ``fit`` does (a metric,
    as in ``score``, does not).
    """
    suffix = f" by {type(est).__name__}" if by else ""
    if y.ndim > 2:
        raise ValueError(
            f"Found array with dim {y.ndim}, while dim <= 2 is required{suffix}."
        )
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={y.shape}) while a minimum of "
            f"1 is required{suffix}."
        )


def column_as_1d(y):
    """A column vector as 1-D, with scikit-learn's warning (lazily)."""
    if y.ndim == 2 and y.shape[1] == 1:
        column_or_1d(np.empty((0, 1)), warn=True)
        return y[:, 0]
    return y


def check_finite(values, name, est=None):
    """Raise scikit-learn's message if the floating Dask array ``values``
    holds NaN or infinity (one reduction on the cluster)."""
    dask, da = require_dask()
    if values.dtype.kind not in "fc":
        return
    has_nan, has_inf = dask.compute(da.isnan(values).any(), da.isinf(values).any())
    if has_nan or has_inf:
        # The same message as in memory: scikit-learn's, for a stand-in.
        stand_in = np.array([np.nan if has_nan else np.inf], dtype=values.dtype)
        assert_all_finite(
            stand_in,
            input_name=name,
            estimator_name=None if est is None else type(est).__name__,
        )


def sample_weight_array(sample_weight, rows):
    """Sample weights as a 1-D float64 Dask array aligned to ``rows``: a
    number is every row's weight, as in memory; shape and dtype checked."""
    _, da = require_dask()
    n = sum(rows)
    if isinstance(sample_weight, Number) and not isinstance(sample_weight, bool):
        return da.full(n, float(sample_weight), chunks=(rows,))
    sw = as_dask_array(sample_weight, "sample_weight", rows=rows)
    if sw.ndim != 1:
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got {sw.ndim}D array. "
            f"Expected either a scalar value or a 1D array of length {n}."
        )
    if sw.dtype.kind == "c":
        raise ValueError("Complex data not supported: sample_weight is complex.")
    return sw.astype(np.float64)
