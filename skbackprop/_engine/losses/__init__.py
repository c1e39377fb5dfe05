"""Output-layer losses as registered objects.

A loss is a small frozen dataclass (its fields are its parameters, so equal
losses compare and hash equal, and a network's loss travels to Dask
workers and into saved files as plain data) that knows

* ``out_activation``: its output activation, a key of
  :data:`~skbackprop._engine.activations.OUTPUT_ACTIVATIONS`;
* :meth:`Loss.row_loss`: the loss of each row from the logits ``Z = Z(L)``
  (never from clipped probabilities), finite and free of overflow warnings
  for any finite ``Z``;
* :meth:`Loss.loss_signal`: the row losses and, in place of ``Z``, the
  output signal ``d(L) = dloss/dZ(L)`` (``A(L) - Y`` for the matched pairs
  of :mod:`.matched`), in one pass over the logits: the gradient's output
  step;
* :meth:`Loss.signal`: the same output signal from ``A(L)``, for the
  R-operator;
* :meth:`Loss.hessp`: the loss's Hessian in the logits times ``RZ``, the
  output step of the R-operator and the ``H_i`` of the Gauss-Newton matrix,
  when ``curvature`` is true (positive semi-definite); a loss without a
  usable curvature says so, and the solvers and the evidence that need one
  refuse it;
* :meth:`Loss.check_targets`, the targets it accepts, and
  :meth:`Loss.at_scale`, its parameters resolved from the training
  targets' scale (e.g. a threshold in the targets' units).

Each loss registers itself under its name (:func:`register`); the modules
of this package are imported once, here, so that a new loss is one class in
one module.  :func:`get_loss` turns a name or an instance into a loss.
"""

import dataclasses
import importlib
import pkgutil
import textwrap
from typing import ClassVar

import numpy as np

LOSSES: dict[str, type["Loss"]] = {}


@dataclasses.dataclass(frozen=True)
class Loss:
    """A loss of the output layer's logits; subclasses set the class variables.

    ``name``: the registered name; ``out_activation``: the output
    activation; ``task``: ``"regression"`` or ``"classification"``;
    ``curvature``: :meth:`hessp` is a positive semi-definite Hessian
    (Newton-type solvers, Levenberg-Marquardt and the evidence may use it);
    ``unit_hessian``: that Hessian is the identity (the Gauss-Newton
    products skip it); ``likelihood``: the noise model for the evidence and
    the error bars (``"gaussian"``, ``"bernoulli"``, ``"categorical"``,
    ``"poisson"``), None when the loss is not a negative log-likelihood;
    ``scaled``: some parameters are in the targets' units (:meth:`at_scale`).
    """

    name: ClassVar[str]
    out_activation: ClassVar[str]
    task: ClassVar[str] = "regression"
    curvature: ClassVar[bool] = True
    unit_hessian: ClassVar[bool] = False
    likelihood: ClassVar[str | None] = None
    scaled: ClassVar[bool] = False

    def row_loss(self, Z, Y):
        """Compute the loss of each row from the logits.

        Parameters
        ----------
        Z : ndarray of shape (n_rows, n_outputs)
            The output layer's logits ``Z(L)``.
        Y : ndarray of shape (n_rows, n_outputs)
            The targets, in the output encoding.

        Returns
        -------
        row_loss : ndarray of shape (n_rows,)
            The loss of each row, finite for any finite ``Z``.
        """
        raise NotImplementedError

    def loss_signal(self, Z, Y):
        """Compute the row losses and write the output signal into ``Z``.

        Parameters
        ----------
        Z : ndarray of shape (n_rows, n_outputs)
            The logits; overwritten by the output signal ``d(L)``, the
            derivative of each row's loss in its logits.
        Y : ndarray of shape (n_rows, n_outputs)
            The targets, in the output encoding.

        Returns
        -------
        row_loss : ndarray of shape (n_rows,)
            As :meth:`row_loss`.
        """
        raise NotImplementedError

    def signal(self, A, Y):
        """Compute the output signal from the output activations.

        Parameters
        ----------
        A : ndarray of shape (n_rows, n_outputs)
            The output activation ``A(L)`` of the logits.
        Y : ndarray of shape (n_rows, n_outputs)
            The targets, in the output encoding.

        Returns
        -------
        signal : ndarray of shape (n_rows, n_outputs)
            The output signal ``d(L)``, a new array.
        """
        raise NotImplementedError

    def hessp(self, A, Y, RZ):
        """Multiply the loss's Hessian in the logits by a direction.

        Parameters
        ----------
        A : ndarray of shape (n_rows, n_outputs)
            The output activation ``A(L)`` of the logits.
        Y : ndarray of shape (n_rows, n_outputs)
            The targets, in the output encoding.
        RZ : ndarray of shape (n_rows, n_outputs)
            A direction in the logits (the R-operator's ``R{Z(L)}``).

        Returns
        -------
        product : ndarray of shape (n_rows, n_outputs)
            Each row's Hessian times its row of ``RZ``, a new array.

        Raises
        ------
        ValueError
            For a loss without a curvature (``curvature = False``).
        """
        raise ValueError(f"loss={self.name!r} has no curvature.")

    def check_targets(self, y):
        """Refuse targets this loss cannot take.

        Parameters
        ----------
        y : array-like
            The targets (a regressor's as given; a classifier's encoded).

        Raises
        ------
        ValueError
            Naming what is wrong with them.
        """

    def at_scale(self, scale):
        """Resolve the parameters given in the targets' units.

        Parameters
        ----------
        scale : float
            The training targets' robust scale (1.4826 times their median
            absolute deviation).

        Returns
        -------
        loss : Loss
            This loss with those parameters set (itself if it has none).
        """
        return self

    def log_likelihood_constant(self, Y, sample_weight):
        """Compute what the negative log-likelihood adds to the row losses.

        Parameters
        ----------
        Y : ndarray of shape (n_rows, n_outputs)
            The targets, in the output encoding.
        sample_weight : ndarray of shape (n_rows,) or None
            The rows' weights.

        Returns
        -------
        constant : float
            The weighted sum over the rows (the evidence's normalization);
            0 by default.
        """
        return 0.0

    @property
    def params(self):
        """The loss's parameters, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def register(cls):
    """Class decorator: make ``cls`` the loss of its ``name``."""
    if cls.name in LOSSES and LOSSES[cls.name] is not cls:
        raise ValueError(f"A loss named {cls.name!r} is already registered.")
    LOSSES[cls.name] = cls
    return cls


def names(task=None):
    """The registered names, sorted; only those of ``task`` if given."""
    return sorted(n for n, c in LOSSES.items() if task in (None, c.task))


def describe(task, indent=8):
    """A numpydoc bullet list of the registered losses of ``task``: each
    name with the first line of its class's docstring."""
    pad = " " * indent
    return "\n".join(
        textwrap.fill(
            f'``"{name}"`` (:class:`~skbackprop.losses.{LOSSES[name].__name__}`): '
            + LOSSES[name].__doc__.strip().splitlines()[0],
            width=79,
            initial_indent=pad + "- ",
            subsequent_indent=pad + "  ",
            break_on_hyphens=False,
        )
        for name in names(task)
    )


def get_loss(loss, **params):
    """The loss ``loss``, a registered name (built with ``params``) or a
    :class:`Loss` instance (returned as it is)."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {names()} or a Loss, got {loss!r}.")
    return LOSSES[loss](**params)


def from_state(state):
    """The loss saved as :func:`to_state`'s plain dict, checked."""
    if not isinstance(state, dict) or state.get("name") not in LOSSES:
        raise ValueError(f"not a saved loss: {state!r}")
    params = {k: v for k, v in state.items() if k != "name"}
    return LOSSES[state["name"]](**params)


def to_state(loss):
    """``loss`` as a dict of plain data: its name and parameters."""
    return {"name": loss.name, **loss.params}


def target_scale(Y, sample_weight):
    """A robust scale of the targets: 1.4826 times the weighted median
    absolute deviation from the median (the standard deviation for
    Gaussian targets), averaged over the outputs; the standard deviation
    where half the targets tie, and 1 for constant targets."""
    Y = np.asarray(Y, dtype=np.float64)
    w = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, float)
    scales = []
    for y in Y.T:
        median = _weighted_median(y, w)
        mad = 1.4826 * _weighted_median(np.abs(y - median), w)
        if not mad > 0:
            mad = float(
                np.sqrt(np.average((y - np.average(y, weights=w)) ** 2, weights=w))
            )
        scales.append(mad if mad > 0 and np.isfinite(mad) else 1.0)
    return float(np.mean(scales))


def _weighted_median(y, w):
    order = np.argsort(y, kind="stable")
    cumulative = np.cumsum(w[order])
    return float(y[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def huberized(R, delta):
    """``h(r) = r^2 / (2 delta)`` where ``|r| <= delta``, ``|r| - delta/2``
    beyond: ``|r|`` with its kink rounded off over ``[-delta, delta]`` (at
    most ``delta/2`` below it), and its derivative ``clip(r / delta, -1,
    1)``; both as new arrays."""
    absR = np.abs(R)
    inside = absR <= delta
    h = np.where(inside, 0.5 * R * R / delta, absR - 0.5 * delta)
    return h, np.clip(R / delta, -1.0, 1.0)


def _discover():
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


_discover()
