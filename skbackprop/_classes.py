"""The two estimators: thin layers over :class:`~skbackprop._base.BaseBackprop`.

They differ only in target encoding, output activation and loss, and
scoring: the hooks the base class and the Dask backend call.
"""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d, validate_data

from skbackprop._base import BaseBackprop, gd_only
from skbackprop._docstrings import CLASSIFIER, CLASSIFIER_FIT, REGRESSOR, REGRESSOR_FIT
from skbackprop._engine.losses import Loss, get_loss
from skbackprop._engine.losses import names as loss_names
from skbackprop._posterior import PREDICT_DOC, predict_with_std
from skbackprop._targets import (
    check_class_weight,
    check_same_kind,
    check_sparse_targets,
    dense,
    encode_labels,
    encode_values,
    labels,
    log_probabilities,
    probabilities,
    values,
)


class BackpropClassifier(ClassifierMixin, BaseBackprop):
    __doc__ = CLASSIFIER

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
        alpha=1.0,
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
        scoring=None,
        monotonic_cst=None,
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
            scoring=scoring,
            monotonic_cst=monotonic_cst,
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
        self._fit_targets(y, type_of_target(y, input_name="y"), incremental)
        return X, y

    def _fit_targets(self, y, target_type, incremental):
        """Define ``classes_`` on a first fit, else check the targets' classes."""
        check_sparse_targets(self, y)
        check_class_weight(self.class_weight)
        if target_type not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"Unknown label type: {target_type!r}. BackpropClassifier needs "
                "binary, multiclass or multilabel-indicator targets; use "
                "BackpropRegressor for continuous targets."
            )
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(y)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    "The training data hold only one class "
                    f"({binarizer.classes_[0]!r}); a classifier needs at least "
                    "two classes."
                )
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
            return
        check_same_kind(self._label_binarizer.y_type_, target_type)
        classes = unique_labels(y)
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

    def _target_encoding(self):
        binarizer = self._label_binarizer
        multilabel = binarizer.y_type_.startswith("multilabel")
        return encode_labels, (binarizer.classes_, multilabel)

    # alpha="auto" where the evidence does not apply.
    _auto_alpha = 1.0

    def _penalized_loss(self):
        return get_loss("log_loss")  # or the binary one: both likelihoods

    def _loss(self):
        multiclass = self._label_binarizer.y_type_ == "multiclass"
        return get_loss("log_loss" if multiclass else "binary_log_loss")

    def _target_weights(self, y):
        if self.class_weight is None:
            return None
        return compute_sample_weight(self.class_weight, dense(y))

    def _stratify(self, y):
        return None if self._label_binarizer.y_type_.startswith("multilabel") else y

    def _output_transform(self, kind):
        if kind == "predict":
            return labels, (self._label_binarizer,)
        binary = self._label_binarizer.y_type_ == "binary"
        transform = log_probabilities if kind == "log_proba" else probabilities
        return transform, (self.out_activation_, binary)

    def _score_predictions(self, y, y_pred, sample_weight):
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    # -- public API ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        validation = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, validation=validation)

    fit.__doc__ = CLASSIFIER_FIT

    @gd_only
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, *, classes=None, sample_weight=None):
        """One epoch of gradient descent over the given data.

        Only available with ``solver="gd"``.  ``classes`` and
        ``sample_weight`` are keyword-only (scikit-learn's MLP and SGD
        classifiers take them in opposite orders).

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

        def first_call(est):
            if _check_partial_fit_first_call(est, classes):
                multilabel = type_of_target(y).startswith("multilabel")
                binarizer = LabelBinarizer().fit(y if multilabel else classes)
                labels = binarizer.classes_.tolist()
                if len(labels) < 2 or multilabel and est.classes_.tolist() != labels:
                    raise ValueError(
                        "`classes` must hold at least two classes (for multilabel "
                        f"y, its column indices {labels}), got {est.classes_.tolist()}."
                    )
                est._label_binarizer = binarizer

        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, before=first_call
        )

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
        return self._predict(X)

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
        return self._predict(X, "proba")

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
        return self._predict(X, "log_proba")

    def score(self, X, y, sample_weight=None):
        return self._score(X, y, sample_weight)

    score.__doc__ = ClassifierMixin.score.__doc__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class BackpropRegressor(RegressorMixin, BaseBackprop):
    __doc__ = REGRESSOR

    _parameter_constraints: dict = {
        **BaseBackprop._parameter_constraints,
        "loss": [StrOptions(set(loss_names("regression"))), Loss],
        "quantile": [None, Interval(Real, 0, 1, closed="neither")],
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
        quantile=None,
        scoring=None,
        monotonic_cst=None,
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
            scoring=scoring,
            monotonic_cst=monotonic_cst,
        )
        self.loss = loss
        self.quantile = quantile

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
        self._fit_targets(y, "continuous", incremental)
        return X, y

    def _fit_targets(self, y, target_type, incremental):
        check_sparse_targets(self, y)
        self._loss().check_targets(y)

    def _target_encoding(self):
        return encode_values, ()

    # alpha="auto" where the evidence does not apply.
    _auto_alpha = 1e-4

    def _loss(self):
        if self.loss != "quantile":
            return get_loss(self.loss)  # quantile is ignored, as scikit-learn does
        if self.quantile is None:
            raise ValueError(
                "loss='quantile' needs the quantile to predict: set quantile, "
                "e.g. quantile=0.9."
            )
        return get_loss("quantile", quantile=self.quantile)

    def _output_transform(self, kind):
        return values, ()

    def _score_predictions(self, y, y_pred, sample_weight):
        return r2_score(y, y_pred, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        validation = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, validation=validation)

    fit.__doc__ = REGRESSOR_FIT

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

    def predict(self, X, return_std=False):
        if return_std:
            return predict_with_std(self, X)
        return self._predict(X)

    predict.__doc__ = PREDICT_DOC

    def score(self, X, y, sample_weight=None):
        return self._score(X, y, sample_weight)

    score.__doc__ = RegressorMixin.score.__doc__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = get_loss(self.loss).name == "poisson"
        return tags
