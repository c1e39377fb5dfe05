"""The estimator base: validation, the training loop, and fitted attributes.

:class:`BaseBackprop` holds everything the classifier and the regressor
share.  The subclasses only say how targets are encoded, which loss they
use, and how predictions are scored.
"""

import copy
import numbers
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import OptimizeResult
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from skbackprop._activations import HIDDEN_ACTIVATIONS
from skbackprop._hessian import CURVATURES, network_hessp
from skbackprop._network import (
    Network,
    forward_layers,
    init_params,
    pack_params,
    unpack_params,
)
from skbackprop._persistence import PersistenceMixin
from skbackprop._solvers import (
    SCIPY_METHODS,
    GradientDescent,
    StopTraining,
    canonical_method,
    minimize_scipy,
    scipy_options,
)

# Every accepted spelling of the SciPy methods, plus scikit-learn's "lbfgs".
_SOLVER_NAMES = (
    {"gd", "lbfgs"} | set(SCIPY_METHODS) | {name.lower() for name in SCIPY_METHODS}
)


def _is_dask_collection(X):
    """Whether ``X`` is a Dask collection (without importing Dask)."""
    return hasattr(X, "__dask_graph__")


class _Diverged(Exception):
    """The loss became non-finite."""


class _Objective:
    """The regularized cost of one in-memory data set, as a function of ``theta``.

    The full-batch ``cost_grad``/``hessp`` serve every solver; mini-batch
    gradient descent draws ``batches`` and evaluates ``cost_grad_rows``.
    """

    def __init__(self, net, X, Y, sample_weight, alpha, y=None):
        self.net, self.X, self.Y, self.sample_weight = net, X, Y, sample_weight
        self.alpha = alpha
        self.y = y  # the raw targets, for splitting and scoring
        self.n_samples = X.shape[0]
        self.weight_sum = (
            float(self.n_samples)
            if sample_weight is None
            else float(np.sum(sample_weight))
        )

    def cost_grad(self, theta):
        return self.net.cost_grad(theta, self.X, self.Y, self.sample_weight, self.alpha)

    def hessp(self, theta, v, curvature):
        return network_hessp(
            self.net,
            theta,
            v,
            self.X,
            self.Y,
            self.sample_weight,
            self.alpha,
            curvature,
        )

    def threads(self, batch_size=None):
        """Hold the network's :meth:`~Network.threads` for evaluations of
        ``batch_size`` rows (None: all of them)."""
        rows = self.n_samples if batch_size is None else batch_size
        return self.net.threads(min(rows, self.n_samples))

    def batches(self, batch_size, shuffle, rng):
        """Row selections of one epoch of mini-batches."""
        m = self.n_samples
        order = rng.permutation(m) if shuffle else None
        for start in range(0, m, batch_size):
            if order is None:
                yield slice(start, start + batch_size)
            else:
                yield order[start : start + batch_size]

    def cost_grad_rows(self, theta, rows):
        """``(J_b, D_b, S_b)`` of a mini-batch, ``D_b`` unbiased for ``D``.

        The penalty is scaled by ``S_b / S`` so that ``D_b`` has the full-batch
        ``D`` as its expectation.  ``J_b`` is None for a batch of zero weight.
        """
        sw = None if self.sample_weight is None else self.sample_weight[rows]
        X = self.X[rows]
        S_b = float(X.shape[0] if sw is None else np.sum(sw))
        if S_b <= 0:
            return None, None, 0.0
        alpha = self.alpha * S_b / self.weight_sum
        J, D = self.net.cost_grad(theta, X, self.Y[rows], sw, alpha)
        return J, D, S_b


class _Progress:
    """Per-iteration bookkeeping shared by every solver.

    Records the loss curve and validation scores, applies the stopping rules
    (training loss for gradient descent, validation score for early stopping),
    prints in verbose mode, calls the user's callback, and raises
    :class:`StopTraining` when the fit should end.
    """

    def __init__(self, estimator, net, validation, train_loss_rule, n_iter, curve):
        self.est = estimator
        self.net = net
        self.validation = validation
        self.train_loss_rule = train_loss_rule
        self.n_iter = n_iter
        self.loss_curve = curve
        self.best_loss = min(curve, default=np.inf)
        self.validation_scores = [] if validation is not None else None
        self.best_validation_score = -np.inf if validation is not None else None
        self.best_theta = None
        self.no_improvement = 0
        self.last_theta = None  # the last iterate with a finite loss
        self.reduce_step = None  # set by gradient descent (adaptive schedule)

    def __call__(self, theta, loss):
        est = self.est
        if not np.isfinite(loss):
            raise _Diverged(loss)
        self.last_theta = theta
        self.n_iter += 1
        self.loss_curve.append(loss)
        if est.verbose:
            print(f"Iteration {self.n_iter}, loss = {loss:.8f}")
        score = None
        tol = est.tol
        if self.validation is not None:
            score = est._validation_score(self.net, theta, *self.validation)
            self.validation_scores.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            improved = score >= self.best_validation_score + tol
            if score > self.best_validation_score:
                self.best_validation_score = score
                self.best_theta = np.array(theta, copy=True)
        else:
            improved = loss <= self.best_loss - tol
        self.best_loss = min(self.best_loss, loss)
        self.no_improvement = 0 if improved else self.no_improvement + 1

        if est.callback is not None:
            state = OptimizeResult(
                nit=self.n_iter,
                fun=loss,
                x=np.array(theta, copy=True),
                validation_score=score,
            )
            try:
                stop = est.callback(state)
            except StopIteration:
                stop = True
            if stop is True:
                raise StopTraining

        applies = self.validation is not None or self.train_loss_rule
        if applies and self.no_improvement > est.n_iter_no_change:
            if self.reduce_step is not None and self.reduce_step():
                self.no_improvement = 0
                if est.verbose:
                    print("Setting learning rate to a fifth of its value.")
                return
            what = (
                "Validation score" if self.validation is not None else "Training loss"
            )
            if est.verbose:
                print(
                    f"{what} did not improve more than tol={tol:f} for "
                    f"{est.n_iter_no_change} consecutive iterations. Stopping."
                )
            raise StopTraining


def _divergence_message(est, loss, n_iter, kept_loss=0.0):
    if not np.isfinite(kept_loss):
        # Not even the initial parameters have a finite loss.
        return (
            f"The training loss is non-finite ({kept_loss}) at the starting "
            "parameters: the network's outputs overflow on these data, so "
            "training could not start and those parameters were kept. "
            "Scale the inputs (e.g. StandardScaler), and large regression targets."
        )
    advice = (
        f"a smaller learning_rate_init (now {est.learning_rate_init:g})"
        if est._solver_name() == "gd"
        else "another solver"
    )
    return (
        f"The training loss became non-finite ({loss}) at iteration {n_iter}. "
        "Training stopped and the last parameters with a finite loss were kept. "
        f"Try {advice}, a larger alpha, or scaling the inputs (e.g. StandardScaler)."
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
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions(_SOLVER_NAMES), callable],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
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

    # -- what the subclasses provide -------------------------------------------
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validated ``X`` and ``y`` (labels checked against ``classes_``)."""

    @abstractmethod
    def _encode_targets(self, y, dtype):
        """``Y`` in the output layer's encoding, 2-D, in ``dtype``."""

    @abstractmethod
    def _loss_name(self, Y):
        """The loss (a key of ``LOSSES``) for encoded targets ``Y``."""

    @abstractmethod
    def _prediction_from_output(self, A):
        """Predictions from the output activations ``A(L)``."""

    @abstractmethod
    def _score_predictions(self, y, y_pred, sample_weight):
        """The validation score used by early stopping (higher is better)."""

    def _target_weights(self, y):
        """Per-row weights implied by the targets (class weights); None for none."""
        return None

    def _stratify(self, y):
        """Labels to stratify the validation split by, or None."""
        return None

    # -- parameters --------------------------------------------------------------
    def _solver_name(self):
        """``"gd"``, SciPy's canonical method name, or the callable itself."""
        if callable(self.solver):
            return self.solver
        if self.solver == "gd":
            return "gd"
        if self.solver == "lbfgs":
            return "L-BFGS-B"
        return canonical_method(self.solver)

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        sizes = list(sizes)
        for n in sizes:
            if (
                not isinstance(n, numbers.Integral | np.integer)
                or isinstance(n, bool)
                or n < 1
            ):
                raise ValueError(
                    "hidden_layer_sizes must hold positive integers, "
                    f"got {self.hidden_layer_sizes!r}."
                )
        return [int(n) for n in sizes]

    def _check_cross_parameters(self):
        solver = self._solver_name()
        if solver == "gd" and self.solver_options:
            raise ValueError(
                "solver_options are passed to SciPy's minimize and do not apply "
                "to solver='gd'; use learning_rate_init, momentum, batch_size."
            )
        if (
            isinstance(solver, str)
            and self.curvature != "exact"
            and (solver == "gd" or not SCIPY_METHODS[solver][1])
        ):
            raise ValueError(
                f"curvature={self.curvature!r} needs a solver that uses Hessian-vector "
                f"products (Newton-CG, trust-ncg, trust-krylov, trust-constr), got "
                f"solver={self.solver!r}."
            )

    # -- fit ---------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        # Transactional: if anything fails, the estimator is left as it was.
        saved = self.__dict__.copy()
        try:
            if incremental:
                # scikit-learn validates partial_fit's settings on the first
                # call only; set_params may have changed them since.
                self._validate_params()
            return self._fit_unsafe(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unsafe(self, X, y, sample_weight, incremental):
        hidden = self._hidden_sizes()
        self._check_cross_parameters()
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        if _is_dask_collection(X):
            from skbackprop._dask import dask_objective

            objective = dask_objective(
                self, X, y, sample_weight, hidden, incremental, first_pass
            )
        else:
            objective = self._objective(
                X, y, sample_weight, hidden, incremental, first_pass
            )
        net = objective.net
        sizes, dtype = net.layer_sizes, net.dtype
        if not first_pass:
            fitted = tuple(
                [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
            )
            if fitted != sizes:
                raise ValueError(
                    f"The network's layer sizes changed from {fitted} to {sizes}; "
                    "warm_start and partial_fit continue the same architecture. "
                    "Set warm_start=False to start afresh."
                )

        rng = check_random_state(self.random_state)
        if first_pass:
            theta = init_params(sizes, self.activation, rng, dtype)
        else:
            theta = pack_params(
                [c.astype(dtype, copy=False) for c in self.coefs_],
                [b.astype(dtype, copy=False) for b in self.intercepts_],
            )

        validation = None
        if self.early_stopping and not incremental:
            objective, validation = self._split_validation(objective, rng)

        solver = self._solver_name()
        continuing = not first_pass and solver == "gd"
        progress = _Progress(
            self,
            net,
            validation,
            train_loss_rule=solver == "gd",
            n_iter=self.n_iter_ if continuing else 0,
            curve=list(self.loss_curve_) if continuing else [],
        )
        with objective.threads(self.batch_size if solver == "gd" else None):
            if solver == "gd":
                theta, result, loss_value = self._run_gd(
                    objective, theta, progress, rng, incremental
                )
            else:
                theta, result, loss_value = self._run_scipy(
                    solver, objective, theta, progress
                )
            if validation is not None and progress.best_theta is not None:
                theta = progress.best_theta
                # loss_ is the cost of the parameters kept, not the last iterate's.
                loss_value = objective.cost_grad(theta)[0]
        theta = np.asarray(theta, dtype=dtype)
        if not np.isfinite(theta).all():
            raise ValueError(
                "The solver produced non-finite weights. Scale the inputs or use "
                "a larger alpha."
            )

        coefs, intercepts = unpack_params(theta, sizes)
        self.coefs_ = [c.copy() for c in coefs]
        self.intercepts_ = [b.copy() for b in intercepts]
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = net.out_activation
        self.n_iter_ = progress.n_iter
        self.loss_ = float(loss_value)
        self.loss_curve_ = progress.loss_curve
        self.best_loss_ = None if validation is not None else progress.best_loss
        self.validation_scores_ = progress.validation_scores
        self.best_validation_score_ = progress.best_validation_score
        self.optimize_result_ = result
        return self

    def _objective(self, X, y, sample_weight, hidden, incremental, first_pass):
        """Validate in-memory data and bind it to a new network."""
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sp.issparse(X):
            X = X.tocsr()
        sample_weight = self._check_weights(sample_weight, X, y)
        Y = self._encode_targets(y, X.dtype)
        sizes = (X.shape[1], *hidden, Y.shape[1])
        net = Network(
            sizes,
            self.activation,
            self._loss_name(Y),
            dtype=X.dtype,
            chunk_size=self.chunk_size,
        )
        return _Objective(net, X, Y, sample_weight, self.alpha, y=y)

    def _check_weights(self, sample_weight, X, y):
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        target_weights = self._target_weights(y)
        if target_weights is not None:
            target_weights = np.asarray(target_weights, dtype=X.dtype)
            sample_weight = (
                target_weights
                if sample_weight is None
                else sample_weight * target_weights
            )
        if sample_weight is not None and not np.sum(sample_weight) > 0:
            raise ValueError(
                "The sample weights (times the class weights) sum to zero: "
                "at least one sample must have a positive weight."
            )
        return sample_weight

    def _split_validation(self, objective, rng):
        """A training objective on part of the data, and held-out data to score."""
        o = objective
        arrays = [o.X, o.Y, o.y]
        if o.sample_weight is not None:
            arrays.append(o.sample_weight)
        try:
            split = train_test_split(
                *arrays,
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=self._stratify(o.y),
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction="
                f"{self.validation_fraction} of {o.n_samples} samples ({exc}). "
                "Use more data or a larger validation_fraction."
            ) from exc
        X_train, X_val, Y_train, _, y_train, y_val = split[:6]
        sw_train, sw_val = split[6:8] if o.sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves "
                f"{X_val.shape[0]} sample(s) for validation; use more data or a "
                "larger fraction."
            )
        train = _Objective(o.net, X_train, Y_train, sw_train, o.alpha, y=y_train)
        return train, (X_val, y_val, sw_val)

    def _validation_score(self, net, theta, X_val, y_val, sw_val):
        A = net.forward(theta, X_val)
        return float(
            self._score_predictions(y_val, self._prediction_from_output(A), sw_val)
        )

    # -- solvers -----------------------------------------------------------------
    def _run_scipy(self, method, objective, theta, progress):
        options = (
            scipy_options(
                method, self.max_iter, self.tol, self.max_fun, self.solver_options
            )
            if isinstance(method, str)
            else {"maxiter": self.max_iter, **(self.solver_options or {})}
        )
        uses_hessp = callable(method) or SCIPY_METHODS[method][1]
        hessp = None
        if uses_hessp:

            def hessp(t, v):
                return np.asarray(objective.hessp(t, v, self.curvature), np.float64)

        # TNC has no iteration limit of its own: stop it at max_iter ourselves.
        cap = self.max_iter if "maxiter" not in options else None
        diverged = None
        try:
            theta_end, result, stopped = minimize_scipy(
                method,
                objective.cost_grad,
                theta,
                options,
                progress,
                hessp=hessp,
                max_iter=cap,
            )
        except _Diverged as exc:
            theta_end, result, stopped = None, None, "diverged"
            diverged = (exc.args[0], progress.n_iter + 1)
        if stopped == "interrupt":
            warnings.warn(
                "Training interrupted by user.", ConvergenceWarning, stacklevel=4
            )

        if result is not None:
            if result.get("nit") is not None:
                progress.n_iter = int(result.nit)
            if not np.isfinite(result.fun) or not np.isfinite(result.x).all():
                diverged = (result.fun, progress.n_iter)
                theta_end = None
            elif not result.success:
                warnings.warn(
                    f"{method if isinstance(method, str) else 'The solver'} did not "
                    f"converge after {progress.n_iter} iteration(s): {result.message} "
                    "Increase max_iter or scale the data.",
                    ConvergenceWarning,
                    stacklevel=4,
                )
        if theta_end is None:  # fall back to the last accepted finite iterate
            theta_end = theta if progress.last_theta is None else progress.last_theta
        elif result is not None and theta_end is result.x:
            return theta_end, result, result.fun
        loss_value = objective.cost_grad(theta_end)[0]
        if diverged is not None:
            self._warn_divergence(*diverged, loss_value)
        return theta_end, result, loss_value

    def _warn_divergence(self, loss, n_iter, kept_loss):
        warnings.warn(
            _divergence_message(self, loss, n_iter, kept_loss),
            ConvergenceWarning,
            stacklevel=5,
        )

    def _run_gd(self, objective, theta, progress, rng, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = GradientDescent(
                self.learning_rate_init,
                self.learning_rate,
                self.power_t,
                self.momentum,
                self.nesterovs_momentum,
            )
        else:
            # Step a copy: a partial_fit that fails leaves the fitted one intact.
            self._optimizer = copy.deepcopy(self._optimizer)
        opt = self._optimizer
        progress.reduce_step = opt.reduce
        S = objective.weight_sum
        batch = self.batch_size
        full_batch = batch is None or batch >= objective.n_samples
        last_finite = theta.copy()
        epochs = 1 if incremental else self.max_iter

        def step(J, D):
            # One sum tells whether all of D is finite (an inf or nan in it
            # makes the sum inf or nan), without a boolean array per step.
            if not (np.isfinite(J) and np.isfinite(D.sum())):
                raise _Diverged(J)
            last_finite[...] = theta
            opt.update(theta, D)

        loss_value = np.nan
        # The cost at the starting parameters: a fit that ends far above it has
        # diverged (checked below).  Full-batch descent steps from it;
        # mini-batch descent estimates it by its first batch, which costs no
        # extra pass over the data.
        start_loss = np.inf
        try:  # Ctrl-C may land in this first evaluation too
            if full_batch:
                J, D = objective.cost_grad(theta)
                start_loss = J
            for _ in range(epochs):
                if full_batch:
                    step(J, D)
                    # Record the cost at the parameters the step produced, as
                    # the SciPy solvers do: loss_curve_, loss_ and the
                    # callback's (fun, x) then describe the same point.
                    J, D = objective.cost_grad(theta)
                    epoch_loss = J
                else:
                    epoch_loss = 0.0
                    for rows in objective.batches(batch, self.shuffle, rng):
                        J, D, S_b = objective.cost_grad_rows(theta, rows)
                        if J is not None:
                            if start_loss == np.inf:
                                start_loss = J
                            step(J, D)
                            epoch_loss += J * S_b / S
                loss_value = epoch_loss
                progress(theta, epoch_loss)
            else:
                if not incremental:
                    warnings.warn(
                        f"Gradient descent: maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        except StopTraining:
            pass
        except _Diverged as exc:
            theta = last_finite
            loss_value = objective.cost_grad(theta)[0]
            self._warn_divergence(exc.args[0], progress.n_iter + 1, loss_value)
            return theta, None, loss_value
        except KeyboardInterrupt:
            warnings.warn(
                "Training interrupted by user.", ConvergenceWarning, stacklevel=4
            )
            if not np.isfinite(theta).all():
                theta = last_finite
            loss_value = objective.cost_grad(theta)[0]
            return theta, None, loss_value
        # A step size too large can blow the loss up without overflowing; the
        # fit then stops for lack of improvement with useless weights.  More
        # than doubling the starting loss is divergence, not mini-batch noise.
        if not incremental and loss_value > 2 * start_loss + self.tol:
            warnings.warn(
                f"The training loss rose from {start_loss:.6g} to {loss_value:.6g} "
                "during gradient descent: the steps are too large. Try a smaller "
                f"learning_rate_init (now {self.learning_rate_init:g}), or scaling "
                "the inputs (e.g. StandardScaler).",
                ConvergenceWarning,
                stacklevel=4,
            )
        return theta, None, loss_value

    # -- predict -----------------------------------------------------------------
    def _forward(self, X, out_activation="default"):
        check_is_fitted(self)
        if out_activation == "default":
            out_activation = self.out_activation_
        if _is_dask_collection(X):
            from skbackprop._dask import dask_forward

            return dask_forward(self, X, out_activation)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        if sp.issparse(X):
            X = X.tocsr()
        return forward_layers(
            self.coefs_,
            self.intercepts_,
            X,
            self.activation,
            out_activation,
            self.chunk_size,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _gd_only(estimator):
    """partial_fit exists for solver='gd' only, as for scikit-learn's SGD."""
    if estimator.solver != "gd":
        raise AttributeError(
            f"partial_fit is only available for solver='gd', not {estimator.solver!r}."
        )
    return True


gd_only = available_if(_gd_only)
