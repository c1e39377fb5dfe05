"""Validation data of early stopping and the score it is judged by.

Two sources of validation rows, one score function:

* ``fit(..., X_val=, y_val=, sample_weight_val=)``: a validation set the
  user chooses (:func:`check_request`, :func:`validation_set`); all of
  ``X`` trains;
* otherwise the ``validation_fraction`` split of :mod:`skbackprop._data`.

:func:`score_function` turns the ``scoring`` parameter into ``score(theta)``
(higher is better), following
:class:`~sklearn.ensemble.HistGradientBoostingClassifier`: None is the
estimator's own ``score``, ``"loss"`` the negative mean validation loss, and
anything else a scikit-learn scorer (:func:`~sklearn.metrics.check_scoring`).
"""

import copy

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d, validate_data


def check_request(est, X_val, y_val, sample_weight_val):
    """Whether ``fit`` was given a validation set; a ``ValueError`` if it was
    given one inconsistently.  Changes nothing."""
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError(
                "sample_weight_val is provided, but X_val and y_val were not."
            )
        return False
    if y_val is None:
        raise ValueError("X_val is provided, but y_val was not provided.")
    if X_val is None:
        raise ValueError("y_val is provided, but X_val was not provided.")
    if not est.early_stopping:
        raise ValueError(
            "X_val and y_val are passed to fit while early_stopping=False. They "
            "are the validation set of early stopping: set early_stopping=True."
        )
    return True


def validation_set(est, net, y, X_val, y_val, sample_weight_val, check_weights):
    """The validated ``(X_val, Y_val, y_val, sw_val)`` of a chosen validation set.

    ``X_val`` as the training ``X`` (same features, CSR or dense, in the
    network's dtype), ``Y_val`` encoded as the training targets ``y``,
    ``y_val`` checked against them (a classifier's labels must be among
    ``classes_``) and ``sw_val`` the sample weights times the class weights,
    as ``check_weights(est, sample_weight, X, y)`` gives them for training.
    """
    try:
        X_val, y_val = validate_data(
            est,
            X_val,
            y_val,
            reset=False,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=not is_classifier(est),
            dtype=(np.float64, np.float32),
        )
    except ValueError as exc:
        raise ValueError(_naming_validation_set(str(exc))) from exc
    X_val = X_val.tocsr() if sp.issparse(X_val) else X_val
    X_val = X_val.astype(net.dtype, copy=False)
    if y_val.ndim == 2 and y_val.shape[1] == 1:
        y_val = column_or_1d(y_val, warn=True)
    if y_val.ndim != y.ndim:
        raise ValueError(
            f"y_val has {y_val.ndim} dimension(s) but the training y has {y.ndim}: "
            "give y_val the kind of targets y has (labels or an indicator "
            "matrix, one or several outputs)."
        )
    try:
        # With classes_ set, an incremental target check only checks.
        est._fit_targets(y_val, type_of_target(y_val, input_name="y_val"), True)
    except ValueError as exc:
        raise ValueError(f"y_val does not match the training targets: {exc}") from exc
    encode, args = est._target_encoding()
    Y_val = encode(y_val, *args, dtype=net.dtype)
    if Y_val.shape != (X_val.shape[0], net.layer_sizes[-1]):
        raise ValueError(
            f"y_val encodes to {Y_val.shape[1:]} outputs per row but the network "
            f"has {net.layer_sizes[-1]}: y_val must have the training y's kind "
            "and number of columns."
        )
    try:
        sw_val = check_weights(est, sample_weight_val, X_val, y_val)[0]
    except ValueError as exc:
        raise ValueError(f"sample_weight_val: {exc}") from exc
    return X_val, Y_val, y_val, sw_val


def _naming_validation_set(message):
    """scikit-learn's message about ``X`` or ``y``, naming ``X_val`` or
    ``y_val``: the training data were fine, these are not."""
    for old, new in (
        ("X has ", "X_val has "),
        ("Input X ", "Input X_val "),
        ("Input y ", "Input y_val "),
        ("The feature names should match", "X_val's feature names should match"),
    ):
        message = message.replace(old, new)
    if "X_val" in message or "y_val" in message:
        return message
    return f"X_val, y_val: {message}"


def score_function(est, net, X_val, Y_val, y_val, sw_val):
    """``score(theta)`` of parameters on validation rows, higher is better."""
    scoring = est.scoring
    if scoring is None:
        transform, args = est._output_transform("predict")

        def score(theta):
            y_pred = transform(net.forward(theta, X_val), *args)
            return float(est._score_predictions(y_val, y_pred, sw_val))

        return score
    if isinstance(scoring, str) and scoring == "loss":
        row_loss = net.loss.row_loss
        S = float(X_val.shape[0] if sw_val is None else np.sum(sw_val))

        def score(theta):
            # The data term of J on the validation rows: no penalty.
            Z = net.forward(theta, X_val, out_activation=False)
            with np.errstate(over="ignore", invalid="ignore"):
                loss = row_loss(Z, Y_val)
                total = loss.sum() if sw_val is None else np.dot(sw_val, loss)
            return -float(total) / S

        return score
    scorer = check_scoring(est, scoring)
    # A stand-in fitted estimator whose weights are theta: scorers call its
    # predict/predict_proba.  X_val is validated already (no feature names).
    view = copy.copy(est)
    view.__dict__.pop("feature_names_in_", None)
    view.out_activation_ = net.out_activation
    view.n_layers_ = len(net.layer_sizes)
    view.n_outputs_ = net.layer_sizes[-1]
    kwargs = {} if sw_val is None else {"sample_weight": sw_val}

    def score(theta):
        view.coefs_, view.intercepts_ = net.unpack(net.as_theta(theta))
        return float(scorer(view, X_val, y_val, **kwargs))

    return score
