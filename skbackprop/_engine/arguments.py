"""Checks of the arguments of the engine's public functions.

:func:`~skbackprop.cost_grad` and its siblings take arrays, not an
estimator's validated data, so they check what the estimators check: data
and parameters finite (scikit-learn's messages), targets of at most two
dimensions in the loss's encoding, sample weights finite and non-negative,
a penalty that is a finite non-negative number or one per weight, and no
complex values anywhere (a cast to float would drop the imaginary part with
only NumPy's warning).  Each check is one pass over an argument: small
against the products the functions then compute.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import assert_all_finite

from skbackprop._engine.losses import get_loss
from skbackprop._engine.network import Network


def real(**arrays):
    """Refuse complex arrays (named by their keyword)."""
    for name, a in arrays.items():
        if a is not None and np.iscomplexobj(a):
            raise ValueError(f"Complex data not supported: {name} is complex.")


def _finite(a, name):
    """scikit-learn's message if ``a`` holds NaN or infinity (tested first
    without its per-call overhead, tens of microseconds)."""
    data = a.data if sp.issparse(a) else a
    if data.size > 4096:
        # A sum reads the data once and allocates nothing.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(data)):
                return
    if not np.isfinite(data).all():
        assert_all_finite(data, input_name=name)


def check_vector(theta, net, name="theta"):
    """``theta`` (or a direction ``v``) as a finite array of ``net.n_params``
    values in the network's dtype."""
    real(**{name: theta})
    theta = net.as_theta(theta)
    if theta.shape != (net.n_params,):
        if name != "theta":
            raise ValueError(
                f"{name} must have shape ({net.n_params},), got {theta.shape}."
            )
        raise ValueError(
            f"theta must be a 1-D array of {net.n_params} parameters for "
            f"layer_sizes {net.layer_sizes}, got shape {theta.shape}."
        )
    _finite(theta, name)
    return theta


def prepare(X, Y, sample_weight, dtype=None, y_name="Y"):
    """Dense/CSR ``X``, 2-D ``Y`` and 1-D weights in one floating dtype, checked."""
    real(
        **{"X": X.data if sp.issparse(X) else X, y_name: Y}, sample_weight=sample_weight
    )
    if sp.issparse(X):
        X = X.tocsr()
        if dtype is None:
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = X.astype(dtype, copy=False)
    else:
        X = np.asarray(X)
        if dtype is None:
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        X = np.asarray(X, dtype=dtype)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got {X.ndim} dimension(s).")
    _finite(X, "X")
    Y = np.asarray(Y, dtype=dtype)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.ndim != 2:
        raise ValueError(
            f"{y_name} must be 1-D or 2-D, of shape (n_samples, n_outputs), got "
            f"{Y.ndim} dimension(s)."
        )
    if Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and {y_name} have different numbers of rows: {X.shape[0]} and "
            f"{Y.shape[0]}."
        )
    _finite(Y, y_name)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=dtype)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must have shape ({X.shape[0]},), "
                f"got {sample_weight.shape}."
            )
        _finite(sample_weight, "sample_weight")
        if (sample_weight < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`.")
    return X, Y, sample_weight, dtype


def check_targets(Y, loss):
    """``Y`` in the encoding of ``loss`` (a name or a loss; see
    :func:`~skbackprop.cost_grad`), as the loss checks it."""
    get_loss(loss).check_targets(Y)


def penalty(alpha, net):
    """``alpha`` checked: a finite non-negative number (a Python float then),
    or one such penalty per weight of ``net``, in float64."""
    if np.ndim(alpha) == 0:
        if (
            isinstance(alpha, bool | np.bool_)
            or not isinstance(alpha, Real | np.ndarray)
            or np.iscomplexobj(alpha)
        ):
            raise ValueError(
                f"alpha must be a non-negative number or hold one penalty per "
                f"weight, got {alpha!r}."
            )
        a = float(alpha)
        if not (np.isfinite(a) and a >= 0):
            raise ValueError(f"alpha must be finite and non-negative, got {alpha!r}.")
        return a
    real(alpha=alpha)
    a = np.asarray(alpha, dtype=np.float64)
    if a.shape != (net.n_coefs,):
        raise ValueError(
            f"alpha must be a number or hold one penalty per weight, shape "
            f"({net.n_coefs},); got shape {a.shape}."
        )
    if not (np.isfinite(a).all() and (a >= 0).all()):
        raise ValueError("alpha's entries must be finite and non-negative.")
    return a


def network_for(X, Y, layer_sizes, activation, loss, dtype, chunk_size, y_name="Y"):
    """The network of these arguments, checked against ``X`` and ``Y``."""
    net = Network(layer_sizes, activation, loss, dtype=dtype, chunk_size=chunk_size)
    if net.layer_sizes[0] != X.shape[1] or net.layer_sizes[-1] != Y.shape[1]:
        raise ValueError(
            f"layer_sizes {net.layer_sizes} do not match X with {X.shape[1]} "
            f"features and {y_name} with {Y.shape[1]} outputs."
        )
    return net
