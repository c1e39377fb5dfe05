"""Saving and loading fitted estimators: pickle, joblib and skops.

:class:`PersistenceMixin` gives the estimators a pickled state that

* records the version of skbackprop that wrote it, and warns with
  :class:`InconsistentVersionWarning` when another version reads it back;
* holds only plain data: numbers, strings, lists, dicts, NumPy arrays and
  scikit-learn objects.  The gradient-descent optimizer is saved as a dict
  of its settings and velocity, and ``optimize_result_`` as a dict of its
  scalar and array entries (a solver's inverse-Hessian approximation,
  ``hess_inv``, which can be far larger than the weights, is not saved).

So a fitted estimator loads with :func:`skops.io.load` trusting only the
classes that :func:`trusted_types` lists.  Loading then checks the values
too (:func:`~skbackprop._state.check_fitted_state`): a file whose fields
disagree, e.g. weights whose shapes do not chain or an out-of-range
parameter, is refused with an error naming the field.
"""

import warnings
from numbers import Number

import numpy as np
import sklearn.exceptions
from scipy.optimize import OptimizeResult

from skbackprop._engine import losses
from skbackprop._engine.losses import Loss
from skbackprop._state import check_fitted_state
from skbackprop._training.solvers.gd import GradientDescent
from skbackprop._version import __version__

_VERSION_KEY = "_skbackprop_version"
_OPTIMIZER_KEY = "_optimizer"
_RESULT_KEY = "optimize_result_"
# A loss (the parameter given as an instance, the fitted one) is saved as
# its name and parameters.
_LOSS_KEYS = ("loss", "loss_function_")
# Entries of a SciPy OptimizeResult never saved: curvature approximations
# (a LinearOperator for L-BFGS-B, an n_params x n_params matrix for BFGS).
_DROPPED_RESULT_ENTRIES = frozenset({"hess_inv", "hess"})


class InconsistentVersionWarning(sklearn.exceptions.InconsistentVersionWarning):
    """Warning raised when an estimator saved by another skbackprop version loads.

    A subclass of scikit-learn's warning of the same name, so filtering that
    one filters this one too.

    Parameters
    ----------
    estimator_name : str
        The estimator's class name.
    current_version : str
        The skbackprop version loading the estimator.
    original_version : str
        The skbackprop version that saved it (``"unknown"`` if it did not
        say).
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Loading {self.estimator_name} saved with skbackprop "
            f"{self.original_version} using skbackprop {self.current_version}. "
            "This might lead to breaking code or invalid results; refit the "
            "estimator with this version, or load it with the version that "
            "saved it."
        )


def trusted_types() -> list[str]:
    """The types to trust when loading a fitted estimator with skops.

    A fitted :class:`BackpropClassifier` or :class:`BackpropRegressor`
    holds nothing beyond these classes, NumPy arrays, built-in containers
    and scikit-learn's own types (which skops trusts by default).  A model
    fitted with a ``callback`` function also stores that function, which
    skops reports as untrusted: set ``callback=None`` before saving.

    Returns
    -------
    types : list of str
        Fully qualified names, for the ``trusted`` argument of
        :func:`skops.io.load`.

    Examples
    --------
    >>> import numpy as np
    >>> import skops.io as sio
    >>> from skbackprop import BackpropClassifier, trusted_types
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1]
    >>> clf = BackpropClassifier(hidden_layer_sizes=(), random_state=0).fit(X, y)
    >>> data = sio.dumps(clf)
    >>> set(sio.get_untrusted_types(data=data)) <= set(trusted_types())
    True
    >>> sio.loads(data, trusted=trusted_types()).predict(X).tolist()
    [0, 0, 1, 1]
    """
    return [
        "skbackprop._classes.BackpropClassifier",
        "skbackprop._classes.BackpropRegressor",
    ]


def _plain(value):
    """Whether ``value`` is data that loads without running code."""
    if value is None or isinstance(value, str | bool | Number | np.generic):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufc"


def _result_state(result):
    return {
        key: value
        for key, value in result.items()
        if key not in _DROPPED_RESULT_ENTRIES and _plain(value)
    }


def _loaded_loss(state, key, name):
    try:
        return losses.from_state(state)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"Refusing to load this {name}: its saved {key} is not a loss "
            f"({type(exc).__name__}: {exc})."
        ) from exc


class PersistenceMixin:
    """Plain-data ``__getstate__``/``__setstate__`` that record the version.

    Chains to :class:`sklearn.base.BaseEstimator`, which handles
    scikit-learn's own version tag.
    """

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        optimizer = state.get(_OPTIMIZER_KEY)
        if isinstance(optimizer, GradientDescent):
            state[_OPTIMIZER_KEY] = dict(vars(optimizer))
        result = state.get(_RESULT_KEY)
        if isinstance(result, OptimizeResult):
            state[_RESULT_KEY] = _result_state(result)
        for key in _LOSS_KEYS:
            if isinstance(state.get(key), Loss):
                state[key] = losses.to_state(state[key])
        state[_VERSION_KEY] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        original = state.pop(_VERSION_KEY, "unknown")
        if original != __version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=__version__,
                    original_version=original,
                ),
                stacklevel=2,
            )
        optimizer = state.get(_OPTIMIZER_KEY)
        if isinstance(optimizer, dict):
            restored = GradientDescent.__new__(GradientDescent)
            vars(restored).update(optimizer)
            state[_OPTIMIZER_KEY] = restored
        result = state.get(_RESULT_KEY)
        if isinstance(result, dict) and not isinstance(result, OptimizeResult):
            state[_RESULT_KEY] = OptimizeResult(result)
        for key in _LOSS_KEYS:
            if isinstance(state.get(key), dict):
                state[key] = _loaded_loss(state[key], key, type(self).__name__)
        before = dict(self.__dict__)
        super().__setstate__(state)
        if "coefs_" in self.__dict__:
            # A file edited by hand can hold any values of the right types:
            # refuse it here rather than predict garbage from it.
            try:
                check_fitted_state(self, full=True)
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                # A missing attribute (AttributeError) is as corrupt as a
                # wrong one; InvalidParameterError is a ValueError.
                self.__dict__.clear()
                self.__dict__.update(before)
                raise ValueError(
                    f"Refusing to load this {type(self).__name__}: its saved "
                    f"state is inconsistent (a corrupt or edited file, or one "
                    f"from another version?). {type(exc).__name__}: {exc}"
                ) from exc
