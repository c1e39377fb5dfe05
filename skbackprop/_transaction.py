"""Fitting as a transaction: one fit at a time, published in one step.

:func:`transaction` runs a fit on a working copy of the estimator's
attributes and, if it succeeds, publishes the new fitted state with one
assignment of ``__dict__``.  So

* a failing fit leaves the estimator exactly as it was (and a
  ``RandomState`` passed as ``random_state`` unadvanced);
* another thread predicting meanwhile sees the old fitted state or the new
  one, never a mix: prediction reads one :func:`snapshot`, a view of the
  attribute dict of the moment, which a fit replaces and never edits;
* a second fit of the same object while one runs (from another thread, or
  from the fit's own ``callback``) is refused with a ``RuntimeError``
  rather than interleaving with it.

The record of the estimators being fitted lives here, not on the
estimators: nothing of it is pickled, cloned or saved.
"""

import threading
from contextlib import contextmanager

import numpy as np

# The estimators being fitted, by id (alive while they are being fitted).
_FITTING: set[int] = set()
_FITTING_LOCK = threading.Lock()


@contextmanager
def _fitting(est):
    """Mark ``est`` as being fitted; refuse a second, concurrent fit of it."""
    key = id(est)
    with _FITTING_LOCK:
        if key in _FITTING:
            raise RuntimeError(
                f"This {type(est).__name__} is already being fitted: fit and "
                "partial_fit cannot run on one estimator from two threads at "
                "once, nor be called from its own callback. Fit a copy "
                "(sklearn.base.clone) instead, or wait for the first fit to end."
            )
        _FITTING.add(key)
    try:
        yield
    finally:
        with _FITTING_LOCK:
            _FITTING.discard(key)


def _publish(est, start, fitted):
    """Give ``est`` the attributes a fit changed from ``start`` to ``fitted``.

    One assignment of ``__dict__``.  What the fit did not change is taken
    from the current ``__dict__``: parameters set meanwhile (from a
    callback, say) are kept.
    """
    state = dict(est.__dict__)
    for key in start.keys() - fitted.keys():
        state.pop(key, None)
    for key, value in fitted.items():
        if key not in start or start[key] is not value:
            state[key] = value
    est.__dict__ = state


@contextmanager
def transaction(est):
    """Yield a working copy of ``est`` to fit; publish it if no exception.

    The copy is shallow: the fit must replace, not edit, the attributes'
    values (it does: arrays, lists and the optimizer state are new objects).
    """
    with _fitting(est):
        start = dict(est.__dict__)  # what the fit starts from (set_params may
        work = object.__new__(type(est))  # edit est.__dict__ meanwhile)
        work.__dict__.update(start)
        # A RandomState passed by the user is the user's object, which a
        # failing fit must not advance either.
        rng = start.get("random_state")
        rng_state = rng.get_state() if isinstance(rng, np.random.RandomState) else None
        try:
            yield work
        except BaseException:
            if rng_state is not None:
                rng.set_state(rng_state)
            raise
        _publish(est, start, work.__dict__)


def snapshot(est):
    """``est`` as it is now, for one prediction: a view sharing its current
    attribute dict, which a concurrent fit replaces rather than edits."""
    view = object.__new__(type(est))
    view.__dict__ = est.__dict__
    return view
