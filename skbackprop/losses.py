"""The losses of :class:`~skbackprop.BackpropRegressor` (and the classifier's).

Pass one as ``loss=`` to set its parameters, e.g.
``BackpropRegressor(loss=HuberLoss(delta=2.0))``; a name (``loss="huber"``)
takes its defaults.  Each is a small frozen dataclass: equal losses compare
equal, and a fitted estimator records the one it was trained with, its
parameters resolved on the training targets, as ``loss_function_``.

The classifier chooses its loss from the targets: ``HalfBinomialLoss``
(binary, multilabel) or ``HalfMultinomialLoss`` (multiclass).

This module lists every registered loss class: a new loss is one class in
one module of the engine, and appears here by itself.
"""

from skbackprop._engine.losses import LOSSES, Loss  # noqa: F401 (public)

globals().update({cls.__name__: cls for cls in LOSSES.values()})

__all__ = sorted(["Loss", *(cls.__name__ for cls in LOSSES.values())])
del LOSSES
