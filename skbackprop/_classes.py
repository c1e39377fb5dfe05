"""The two estimators: thin layers over :class:`~skbackprop._base.BaseBackprop`.

They differ only in target encoding, output activation and loss, and
scoring.
"""

import functools

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d, validate_data

from skbackprop._base import BaseBackprop, _is_dask_collection, gd_only

_SHARED_PARAMETERS = """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,) or int, default=(100,)
        The sizes of the hidden layers: ``(100,)`` is one hidden layer of 100
        units, ``()`` none (a generalized linear model).

    activation : {{"relu", "tanh", "logistic", "identity"}}, default="relu"
        Hidden activation ``g``.

    solver : str or callable, default="L-BFGS-B"
        How ``J`` is minimized with the batch gradient ``D``:

        - a method of :func:`scipy.optimize.minimize`: ``"L-BFGS-B"``,
          ``"CG"``, ``"BFGS"``, ``"TNC"``, ``"SLSQP"``, and the Newton-type
          ``"Newton-CG"``, ``"trust-ncg"``, ``"trust-krylov"``,
          ``"trust-constr"``, which receive exact Hessian-vector products
          (see ``curvature``); the derivative-free ``"Nelder-Mead"``,
          ``"Powell"``, ``"COBYLA"``, ``"COBYQA"`` (tiny networks only).
          Names are SciPy's spelling or all lower case; ``"lbfgs"`` means
          ``"L-BFGS-B"``.
        - a callable custom minimizer in SciPy's protocol
          ``method(fun, x0, args, **kwargs) -> OptimizeResult``; ``fun``
          returns ``J``, and the keyword arguments include ``jac`` (a
          callable returning ``D``), ``hessp``, ``callback``, ``maxiter``
          (``max_iter``) and the ``solver_options``.
        - ``"gd"``: gradient descent ``theta <- theta - eta D``, full batch by
          default, mini-batch when ``batch_size`` is set.

    alpha : float, default=1e-4
        L2 penalty ``lambda`` on the weights (not the biases), scaled as
        ``alpha / (2 S) sum ||W||^2`` with ``S`` the total sample weight.

    batch_size : int, default=None
        Rows per mini-batch for ``solver="gd"``, reshuffled every epoch when
        ``shuffle``; None is full-batch gradient descent.  Ignored by the
        SciPy solvers, which always use the full batch.

    learning_rate : {{"constant", "invscaling", "adaptive"}}, default="constant"
        Step-size schedule of ``solver="gd"``: constant; ``eta_0 / (t + 1) **
        power_t`` after ``t`` updates; or divided by 5 whenever the training
        loss stops improving for ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=0.05
        Initial step size ``eta_0`` of ``solver="gd"``.

    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.

    momentum : float, default=0.0
        Momentum of ``solver="gd"``, in ``[0, 1)``; 0 is plain gradient
        descent.

    nesterovs_momentum : bool, default=False
        Use Nesterov's momentum (when ``momentum > 0``).

    max_iter : int, default=200
        Maximum number of iterations (epochs for ``solver="gd"``).

    max_fun : int, default=15000
        Maximum number of cost evaluations of ``"L-BFGS-B"`` and ``"TNC"``.

    tol : float, default=1e-4
        Tolerance: SciPy's ``gtol`` (``ftol`` for SLSQP, ``xtol`` for
        Newton-CG); for ``solver="gd"`` and early stopping, the improvement
        of the loss or validation score below which an iteration does not
        count as progress.

    n_iter_no_change : int, default=10
        Iterations without progress (see ``tol``) before ``solver="gd"`` or
        early stopping ends the fit.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data{stratified}, score it
        after every iteration of any solver, stop after ``n_iter_no_change``
        iterations without improvement and keep the best parameters.

    validation_fraction : float, default=0.1
        Proportion of the data held out for early stopping.

    shuffle : bool, default=True
        Shuffle the rows every epoch of mini-batch gradient descent.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the shuffling.
        An int gives bit-identical fits.

    warm_start : bool, default=False
        Start from the weights of the previous fit.

    verbose : bool or int, default=False
        Print the loss after every iteration (and the validation score with
        early stopping), for every solver.

    solver_options : dict, default=None
        Extra options for the SciPy method (e.g. ``{{"maxcor": 20}}`` for
        L-BFGS-B); they override the ones derived from ``max_iter``, ``tol``
        and ``max_fun``.  Unknown options raise a ``ValueError``.

    curvature : {{"exact", "gauss-newton"}}, default="exact"
        The curvature products the Newton-type SciPy methods receive: the
        exact Hessian ``H v`` or the positive semi-definite Gauss-Newton
        ``G v``, both by the R-operator.

    callback : callable, default=None
        Called after every iteration as ``callback(state)`` with a
        :class:`scipy.optimize.OptimizeResult` holding ``nit``, ``fun`` (the
        loss), ``x`` (a copy of the flat parameters) and
        ``validation_score``.  Returning True (or raising ``StopIteration``)
        ends the fit with the current parameters.

    chunk_size : int, default=None
        Rows per block of the gradient accumulation: the memory beyond the
        data is ``O(chunk_size * widest layer)``.  None picks a
        cache-friendly size.
"""

_SHARED_ATTRIBUTES = """\
    loss_ : float
        The cost ``J`` at the final parameters (the last epoch's average for
        mini-batch gradient descent).

    best_loss_ : float or None
        The lowest loss seen; None with early stopping (see
        ``best_validation_score_``).

    loss_curve_ : list of float
        The loss after every iteration.

    validation_scores_ : list of float or None
        The validation score after every iteration, with early stopping.

    best_validation_score_ : float or None
        The best validation score, with early stopping.

    coefs_ : list of ndarray of shape (n_{{l-1}}, n_l)
        Weight matrices ``W(l)``, in the dtype of the training data.

    intercepts_ : list of ndarray of shape (n_l,)
        Bias vectors ``b(l)``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column
        names.

    n_iter_ : int
        Number of iterations run (epochs for ``solver="gd"``, accumulated
        over ``partial_fit`` and warm starts).

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of output units.

    out_activation_ : str
        Output activation.

    optimize_result_ : scipy.optimize.OptimizeResult or None
        What SciPy returned; None for ``solver="gd"`` or when the fit was
        stopped by the callback, early stopping or an interrupt.
"""


def _probabilities(A, out_activation, binary):
    """Class probabilities from the output activations ``A(L)`` (clipped in place)."""
    if out_activation == "logistic":
        # Each probability is mathematically inside (0, 1); keep it inside
        # the representable open interval rather than rounding to 0 or 1.
        np.clip(A, np.finfo(A.dtype).tiny, np.nextafter(A.dtype.type(1), 0), out=A)
        if binary:
            return np.hstack([1 - A, A])
    return A


def _dask_aware(mixin_score):
    """The mixin's ``score``; for Dask input computed on the cluster (a float)."""

    @functools.wraps(mixin_score)
    def score(self, X, y, sample_weight=None):
        if _is_dask_collection(X):
            from skbackprop._dask import dask_score

            return dask_score(self, X, y, sample_weight)
        return mixin_score(self, X, y, sample_weight=sample_weight)

    return score


class BackpropClassifier(ClassifierMixin, BaseBackprop):
    __doc__ = (
        """Neural-network classifier trained by exact batch backpropagation.

    Minimizes the regularized log-loss ``J`` of a feed-forward network with
    the batch gradient ``D`` of seed 001, handed to any method of
    :func:`scipy.optimize.minimize` or to gradient descent.  Multiclass
    targets use a softmax output and the multinomial log-loss; binary and
    multilabel targets independent logistic outputs and the binary log-loss.
    A drop-in for :class:`sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
"""
        + _SHARED_PARAMETERS.format(stratified=" (stratified by class)")
        + """
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, folded into the sample weights: a dict
        ``{class_label: weight}``, ``"balanced"`` for
        ``n_samples / (n_classes * np.bincount(y))``, or None for equal
        weights.  For multilabel targets, a list of such dicts (one per
        label) or ``"balanced"``.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        The class labels (for multilabel targets, the label indices).

"""
        + _SHARED_ATTRIBUTES.format()
        + """
    See Also
    --------
    BackpropRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The multi-layer perceptron of
        scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbackprop import BackpropClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), BackpropClassifier(
    ...     hidden_layer_sizes=(10,), max_iter=300, random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """
    )

    _parameter_constraints: dict = {
        **BaseBackprop._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="L-BFGS-B",
        alpha=1e-4,
        batch_size=None,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=200,
        max_fun=15000,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=False,
        solver_options=None,
        curvature="exact",
        callback=None,
        chunk_size=None,
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            max_iter=max_iter,
            max_fun=max_fun,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            solver_options=solver_options,
            curvature=curvature,
            callback=callback,
            chunk_size=chunk_size,
        )
        self.class_weight = class_weight

    # -- targets -----------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._set_or_check_classes(type_of_target(y, input_name="y"), y, incremental)
        return X, y

    def _set_or_check_classes(self, target_type, labels, incremental):
        """Define ``classes_`` on a first fit, else check the targets' classes.

        ``labels`` are the targets, or any array with the same classes (Dask
        input passes its unique labels).
        """
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. BackpropClassifier needs "
                "binary, multiclass or multilabel-indicator targets; use "
                "BackpropRegressor for continuous targets."
            )
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(labels)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    "The training data hold only one class "
                    f"({binarizer.classes_[0]!r}); a classifier needs at least "
                    "two classes."
                )
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
            return
        classes = unique_labels(labels)
        if self.warm_start and not incremental:
            if set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same "
                    f"classes as in the previous call to fit. Previously got "
                    f"{self.classes_}, `y` has {classes}."
                )
        elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has "
                f"{self.classes_}. 'y' has {classes}."
            )

    def _encode_targets(self, y, dtype):
        return self._label_binarizer.transform(y).astype(dtype)

    def _loss_name(self, Y):
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        return "log_loss" if multiclass else "binary_log_loss"

    def _target_weights(self, y):
        if self.class_weight is None:
            return None
        return compute_sample_weight(self.class_weight, y)

    def _stratify(self, y):
        return None if self._label_binarizer.y_type_.startswith("multilabel") else y

    def _prediction_from_output(self, A):
        return self._label_binarizer.inverse_transform(A)

    def _score_predictions(self, y, y_pred, sample_weight):
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    # -- public API ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  float32 data are trained in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a label-indicator matrix for multilabel.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples, multiplied by the class
            weights; at least one must be positive.

        Returns
        -------
        self : BackpropClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @gd_only
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of gradient descent over the given data.

        Only available with ``solver="gd"``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes that may appear; required on the first call,
            ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : BackpropClassifier
            The updated estimator.
        """
        saved = self.__dict__.copy()
        try:
            if _check_partial_fit_first_call(self, classes):
                target_type = type_of_target(y)
                binarizer = LabelBinarizer()
                binarizer.fit(y if target_type.startswith("multilabel") else classes)
                if len(binarizer.classes_) < 2:
                    raise ValueError(
                        "`classes` must hold at least two classes, got "
                        f"{binarizer.classes_.tolist()}; a classifier needs two."
                    )
                self._label_binarizer = binarizer
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels (an indicator matrix for multilabel); a lazy
            Dask array for Dask input.
        """
        if _is_dask_collection(X):
            from skbackprop._dask import dask_predict

            return dask_predict(self, X)
        return self._prediction_from_output(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_`` (for multilabel, the
            independent probability of each label); a lazy Dask array for
            Dask input.
        """
        if _is_dask_collection(X):
            from skbackprop._dask import dask_predict_proba

            return dask_predict_proba(self, X)
        A = self._forward(X)
        binary = self._label_binarizer.y_type_ == "binary"
        return _probabilities(A, self.out_activation_, binary)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``np.log(predict_proba(X))``: ``-inf`` where a probability
            rounds to zero.
        """
        if _is_dask_collection(X):
            from skbackprop._dask import dask_predict_proba

            return dask_predict_proba(self, X, log=True)
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    score = _dask_aware(ClassifierMixin.score)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class BackpropRegressor(RegressorMixin, BaseBackprop):
    __doc__ = (
        """Neural-network regressor trained by exact batch backpropagation.

    Minimizes the regularized squared error (identity output) or half Poisson
    deviance (exponential output) of a feed-forward network with the batch
    gradient ``D`` of seed 001, handed to any method of
    :func:`scipy.optimize.minimize` or to gradient descent.  A drop-in for
    :class:`sklearn.neural_network.MLPRegressor`.

    Parameters
    ----------
"""
        + _SHARED_PARAMETERS.format(stratified="")
        + """
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: ``1/2 ||a - y||^2`` with an identity output.
        ``"poisson"``: half the Poisson deviance with an exponential output,
        for non-negative targets such as counts.

    Attributes
    ----------
"""
        + _SHARED_ATTRIBUTES.format()
        + """
    See Also
    --------
    BackpropClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The multi-layer perceptron of
        scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from skbackprop import BackpropRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 2))
    >>> y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    >>> reg = BackpropRegressor(hidden_layer_sizes=(20,), activation="tanh",
    ...                         max_iter=500, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.95
    True
    """
    )

    _parameter_constraints: dict = {
        **BaseBackprop._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="L-BFGS-B",
        alpha=1e-4,
        batch_size=None,
        learning_rate="constant",
        learning_rate_init=0.05,
        power_t=0.5,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=200,
        max_fun=15000,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=False,
        solver_options=None,
        curvature="exact",
        callback=None,
        chunk_size=None,
        loss="squared_error",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            max_iter=max_iter,
            max_fun=max_fun,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            solver_options=solver_options,
            curvature=curvature,
            callback=callback,
            chunk_size=chunk_size,
        )
        self.loss = loss

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for "
                "loss='poisson'."
            )
        return X, y

    def _encode_targets(self, y, dtype):
        return np.asarray(y, dtype=dtype).reshape(y.shape[0], -1)

    def _loss_name(self, Y):
        return self.loss

    def _prediction_from_output(self, A):
        return A.ravel() if A.shape[1] == 1 else A

    def _score_predictions(self, y, y_pred, sample_weight):
        return r2_score(y, y_pred, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  float32 data are trained in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets (non-negative for ``loss="poisson"``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; at least one must be positive.

        Returns
        -------
        self : BackpropRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @gd_only
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of gradient descent over the given data.

        Only available with ``solver="gd"``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : BackpropRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (the mean count for ``loss="poisson"``); a lazy Dask
            array for Dask input.
        """
        if _is_dask_collection(X):
            from skbackprop._dask import dask_predict

            return dask_predict(self, X)
        return self._prediction_from_output(self._forward(X))

    score = _dask_aware(RegressorMixin.score)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
