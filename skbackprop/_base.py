"""The estimator base: parameters, the transactional fit, fitted attributes.

:class:`BaseBackprop` holds everything the classifier and the regressor
share.  The subclasses only say how targets are encoded, which loss they
use, and how predictions are scored (the hooks below).  Training happens in
:func:`skbackprop._training.solve.train`; where the data live is the
business of :func:`skbackprop._data.backend`.
"""

from abc import ABCMeta, abstractmethod
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skbackprop import _auto as auto
from skbackprop._data import backend
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS
from skbackprop._engine.monotone import reflect
from skbackprop._engine.network import Network
from skbackprop._engine.params import check_sizes, init_params, pack_params
from skbackprop._engine.r_operator import CURVATURES
from skbackprop._monotonic import monotonic_bounds
from skbackprop._persistence import PersistenceMixin
from skbackprop._posterior import fit_posterior, from_target_units, to_target_units
from skbackprop._state import (
    check_fitted_state,
    check_prediction_params,
    fitted_loss,
)
from skbackprop._training import solvers
from skbackprop._training.settings import Settings
from skbackprop._training.solve import train
from skbackprop._transaction import snapshot, transaction
from skbackprop._validation import check_request

# The registered solvers' names and aliases (SciPy's names in lower case,
# scikit-learn's "lbfgs").
_SOLVER_NAMES = set(solvers.SOLVERS) | set(solvers.ALIASES)

# scikit-learn's stochastic solvers, which this package does not have, and
# what to use instead.
_SKLEARN_SOLVERS = {
    "sgd": 'solver="gd" with momentum=0.9, nesterovs_momentum=True, '
    "learning_rate_init=0.001 and batch_size=200 for scikit-learn's defaults",
    "adam": 'solver="L-BFGS-B" (the default), or solver="gd" with a batch_size',
}


class _SolverNames(StrOptions):
    """The solver names, listed sorted (SciPy's spelling) in error messages."""

    def __str__(self):
        # The solvers' names and the aliases other than lower-case spellings.
        other = {a for a, name in solvers.ALIASES.items() if a != name.lower()}
        names = sorted({*solvers.names(), *other}, key=str.lower)
        return (
            f"a str among {{{', '.join(map(repr, names))}}} (SciPy methods also "
            "in lower case)"
        )


class BaseBackprop(PersistenceMixin, BaseEstimator, metaclass=ABCMeta):
    """Shared logic of :class:`BackpropClassifier` and :class:`BackpropRegressor`.

    Do not use directly.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS)), list, tuple],
        "solver": [_SolverNames(_SOLVER_NAMES), callable],
        "alpha": [
            Interval(Real, 0, None, closed="left"),
            StrOptions({"auto", "evidence", "ard"}),
        ],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "solver_options": [None, dict],
        "curvature": [StrOptions(set(CURVATURES))],
        "callback": [None, callable],
        "chunk_size": [None, Interval(Integral, 1, None, closed="left")],
        "scoring": [None, str, callable],
        "monotonic_cst": [None, "array-like", dict],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        momentum,
        nesterovs_momentum,
        max_iter,
        max_fun,
        tol,
        n_iter_no_change,
        early_stopping,
        validation_fraction,
        shuffle,
        random_state,
        warm_start,
        verbose,
        solver_options,
        curvature,
        callback,
        chunk_size,
        scoring=None,
        monotonic_cst=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.max_iter = max_iter
        self.max_fun = max_fun
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.solver_options = solver_options
        self.curvature = curvature
        self.callback = callback
        self.chunk_size = chunk_size
        self.scoring = scoring
        self.monotonic_cst = monotonic_cst

    # -- what the subclasses provide -------------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validated in-memory ``X`` and ``y``, targets checked by
        :meth:`_fit_targets`."""

    @abstractmethod
    def _fit_targets(self, y, target_type, incremental):
        """Check the targets and set what they define (``classes_``).

        ``y`` is the targets, or a small array with the same classes or
        extremes (Dask input passes such a summary).
        """

    @abstractmethod
    def _target_encoding(self):
        """``(encode, args)``: ``encode(y, *args, dtype=dtype)`` gives ``Y``.

        ``Y`` is 2-D, in the output layer's encoding; ``encode`` is a
        module-level function, so that Dask can apply it to each block.
        """

    @abstractmethod
    def _loss(self):
        """The loss, a :class:`~skbackprop._engine.losses.Loss` (its
        parameters in the targets' units not yet resolved)."""

    @abstractmethod
    def _output_transform(self, kind):
        """``(transform, args)``: predictions of ``kind`` from ``A(L)``.

        ``transform(A, *args)``; ``kind`` is ``"predict"`` or, for the
        classifier, ``"proba"``.  A module-level function, as for
        :meth:`_target_encoding`.
        """

    @abstractmethod
    def _score_predictions(self, y, y_pred, sample_weight):
        """The score of :meth:`score` and early stopping (higher is better)."""

    def _penalized_loss(self):
        """The loss, for ``alpha="auto"``'s choice before the data are seen
        (None when it is refused: ``fit`` then says why)."""
        try:
            return self._loss()
        except ValueError:
            return None

    def _target_weights(self, y):
        """Per-row weights implied by the targets (class weights); None for none."""
        return None

    def _stratify(self, y):
        """Labels to stratify the validation split by, or None."""
        return None

    # -- parameters --------------------------------------------------------------
    def _validate_params(self):
        """scikit-learn's parameter validation, which names the replacement
        of scikit-learn's ``"sgd"`` and ``"adam"`` solvers."""
        if isinstance(self.solver, str) and self.solver in _SKLEARN_SOLVERS:
            raise InvalidParameterError(
                f"The 'solver' parameter of {type(self).__name__} must be "
                f"{self._parameter_constraints['solver'][0]} or a callable. Got "
                f"{self.solver!r} instead, a stochastic solver of scikit-learn's "
                f"MLP: use {_SKLEARN_SOLVERS[self.solver]}."
            )
        super()._validate_params()

    def _solver(self):
        """The registered :class:`Solver` of ``solver`` (or the callable's)."""
        return solvers.resolve(self.solver)

    def _settings(self, incremental):
        """The training layer's settings, checked across parameters."""
        solver = self._solver()
        if incremental and self.early_stopping:
            # As scikit-learn: one epoch has nothing to stop early.
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.solver_options and not solver.options:
            raise ValueError(
                f"solver_options do not apply to solver={solver.name!r}; use "
                "learning_rate_init, momentum, batch_size."
            )
        if self.curvature != "exact" and not solver.hessp:
            raise ValueError(
                f"curvature={self.curvature!r} needs a solver that uses Hessian-vector "
                f"products ({', '.join(solvers.names(lambda s: s.hessp))}), got "
                f"solver={self.solver!r}."
            )
        evidence = isinstance(self._alpha_in_use(), str)
        if evidence and (incremental or self.early_stopping):
            raise ValueError(
                f"alpha={self.alpha!r} re-estimates alpha from fits on the whole "
                "training set: it does not combine with "
                + ("partial_fit." if incremental else "early_stopping=True.")
            )
        return Settings(
            solver=solver,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            callback=self.callback,
            solver_options=self.solver_options,
            curvature=self.curvature,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            learning_rate=self.learning_rate,
            learning_rate_init=self.learning_rate_init,
            power_t=self.power_t,
            momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum,
            incremental=incremental,
            evidence=evidence,
            ard=self._alpha_in_use() == "ard",
        )

    def _network(self, sizes, dtype, target_scale=None, keep_loss=False):
        """The network of these settings with the given layer sizes.

        ``target_scale()``, if given, is the training targets' scale, which
        resolves a loss's parameters in their units; with ``keep_loss`` (a
        continued ``partial_fit``) those of the fitted loss are kept.
        """
        loss = self._loss()
        if loss.scaled and target_scale is not None:
            previous = getattr(self, "loss_function_", None)
            if keep_loss and type(previous) is type(loss):
                loss = previous
            else:
                loss = loss.at_scale(target_scale())
        return Network(
            sizes, self.activation, loss, dtype=dtype, chunk_size=self.chunk_size
        )

    def _fitted_sizes(self):
        """The layer sizes of the fitted network."""
        return (self.coefs_[0].shape[0], *(W.shape[1] for W in self.coefs_))

    def _prediction_network(self, dtype):
        """The fitted network in ``dtype``, with the output activation it was
        fitted with (whatever ``loss`` says since)."""
        return Network(
            self._fitted_sizes(),
            self.activation,
            fitted_loss(self),
            dtype=dtype,
            chunk_size=self.chunk_size,
        )

    # -- fit ---------------------------------------------------------------------
    def _fit(
        self, X, y, sample_weight=None, incremental=False, before=None, validation=None
    ):
        """Fit (or, ``incremental``, one more epoch) as a transaction.

        On a working copy, published in one step if it succeeds (see
        :mod:`skbackprop._transaction`): if anything fails the estimator is
        left exactly as it was.  ``before(est)``, if given, runs first on
        the copy.  ``validation`` is ``fit``'s ``(X_val, y_val,
        sample_weight_val)``.
        """
        with transaction(self) as work:
            if incremental:
                # scikit-learn validates partial_fit's settings on the first
                # call only; set_params may have changed them since.
                work._validate_params()
            if before is not None:
                before(work)
            work._fit_unsafe(X, y, sample_weight, incremental, validation)
        return self

    def _alpha_in_use(self):
        """The penalty of the fit under way (see :mod:`skbackprop._auto`); ``alpha``
        outside a fit."""
        return self.__dict__.get("_fit_penalty", self.alpha)

    def _fit_unsafe(self, X, y, sample_weight, incremental, validation=None):
        hidden = check_sizes(self.hidden_layer_sizes, "hidden_layer_sizes", 0)
        # The penalty of this fit, read by the backends and the posterior.
        self._fit_penalty = auto.penalty(self, incremental, X)
        settings = self._settings(incremental)
        if validation is not None and not check_request(self, *validation):
            validation = None
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        data = backend(X)
        objective, encoded = data.objective(
            self, X, y, sample_weight, hidden, incremental, first_pass
        )
        if auto.too_large(self, objective):
            self._fit_penalty = self._auto_alpha
            settings = self._settings(incremental)
            objective, encoded = data.objective(
                self, X, y, sample_weight, hidden, incremental, first_pass
            )
        y = encoded
        net = objective.net
        sizes, dtype = net.layer_sizes, net.dtype
        if not first_pass:
            check_fitted_state(self)  # the state it continues from
            fitted = self._fitted_sizes()
            if fitted != sizes:
                raise ValueError(
                    f"The network's layer sizes changed from {fitted} to {sizes}; "
                    "warm_start and partial_fit continue the same architecture. "
                    "Set warm_start=False to start afresh."
                )

        bounds = monotonic_bounds(self, net, settings.solver)
        rng = check_random_state(self.random_state)
        if first_pass:
            theta = init_params(sizes, self.activation, rng, dtype)
        else:
            theta = pack_params(
                [c.astype(dtype, copy=False) for c in self.coefs_],
                [b.astype(dtype, copy=False) for b in self.intercepts_],
            )
            if objective.targets is not None:
                theta = from_target_units(net, theta, objective.targets)
        if bounds is not None:
            settings = replace(settings, bounds=bounds)
            theta = reflect(theta, bounds)

        score = None
        if self.early_stopping and not incremental:
            objective, score = data.validation(self, objective, y, rng, validation)

        # n_iter_ and max_iter are per call, as in scikit-learn (its #24764);
        # a continued descent extends the loss curve and keeps the schedule's
        # step count (see solvers/gd.py).
        continuing = not first_pass and settings.solver.incremental
        result = train(
            objective,
            theta,
            settings,
            rng,
            score=score,
            loss_curve=self.loss_curve_ if continuing else (),
            optimizer=getattr(self, "_optimizer", None) if continuing else None,
        )

        coefs, intercepts = net.unpack(result.theta)
        self.coefs_ = [c.copy() for c in coefs]
        self.intercepts_ = [b.copy() for b in intercepts]
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = net.out_activation
        self.loss_function_ = net.loss
        self.n_iter_ = result.n_iter
        self.loss_ = result.loss
        self.loss_curve_ = result.loss_curve
        self.best_loss_ = result.best_loss
        self.validation_scores_ = result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self.optimize_result_ = result.optimize_result
        if result.optimizer is not None:
            self._optimizer = result.optimizer
        elif first_pass:  # a fresh start forgets an earlier descent's state
            self.__dict__.pop("_optimizer", None)
        fit_posterior(
            self, objective, result, None if incremental else data.rows(objective)
        )
        if objective.targets is not None:
            n_data = objective.scale * objective.weight_sum * net.layer_sizes[-1]
            to_target_units(self, net, objective.targets, n_data)
        del self._fit_penalty
        return self

    # -- predict -----------------------------------------------------------------
    def _predictor(self, X):
        """The outputs of the fitted network on ``X`` (see :mod:`skbackprop._data`),
        from one snapshot of the fitted state (``predictor.est``)."""
        est = snapshot(self)
        check_is_fitted(est)
        # Parameters may have been set, attributes edited, since fit.
        check_prediction_params(est)
        check_fitted_state(est)
        return backend(X).predictor(est, X)

    def _predict(self, X, kind="predict"):
        predictor = self._predictor(X)
        return predictor.apply(*predictor.est._output_transform(kind))

    def _score(self, X, y, sample_weight=None):
        return self._predictor(X).score(y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _gd_only(estimator):
    """partial_fit exists for the incremental solvers ("gd") only, as for
    scikit-learn's SGD."""
    solver = solvers.resolve(estimator.solver)
    if solver is None or not solver.incremental:
        names = solvers.names(lambda s: s.incremental)
        raise AttributeError(
            "partial_fit is only available for "
            + " or ".join(f"solver={name!r}" for name in names)
            + f", not {estimator.solver!r}."
        )
    return True


gd_only = available_if(_gd_only)
