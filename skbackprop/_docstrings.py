"""Docstring sections the two estimators share (numpydoc)."""

from skbackprop._engine.losses import describe as describe_losses
from skbackprop._training.solvers import describe as describe_solvers

PARAMETERS = (
    """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,) or int, default=(100,)
        The sizes of the hidden layers: ``(100,)`` is one hidden layer of 100
        units, ``()`` none (a generalized linear model).

    activation : str or list of str, default="relu"
        Hidden activation ``g``: one name for every hidden layer, or a list
        with one name per hidden layer (from the input side).  The names:

        - ``"relu"``: ``max(0, z)``; ``"tanh"``; ``"logistic"``:
          ``1 / (1 + e^{{-z}})``; ``"identity"``: ``z``;
        - ``"leaky_relu"``: ``z`` for ``z > 0``, ``0.01 z`` otherwise (the
          fixed slope is PyTorch's default ``negative_slope``);
        - ``"softplus"``: ``log(1 + e^z)``;
        - ``"elu"``: ``z`` for ``z > 0``, ``e^z - 1`` otherwise (``alpha=1``);
        - ``"gelu"``: ``z Phi(z)``, ``Phi`` the standard normal CDF (exact,
          not the tanh approximation; Hendrycks & Gimpel 2016);
        - ``"silu"``: ``z / (1 + e^{{-z}})`` (swish).

        The initial weights of each layer use scikit-learn's Glorot factor
        of the activation it feeds (2 for logistic, 6 otherwise; the output
        layer that of the last hidden layer).  ``"gelu"`` and ``"silu"`` are
        not monotone and cannot be combined with ``monotonic_cst``.

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
"""
    + describe_solvers()
    + """

    alpha : float, "auto", "evidence" or "ard", default={alpha}
        L2 penalty ``lambda`` on the weights (not the biases), scaled as
        ``alpha / (2 S) sum ||W||^2`` with ``S`` the total sample weight, so
        that its weight relative to the data shrinks as the data grow.
        {alpha_note}  See :ref:`default_penalty`.
        ``"evidence"`` sets it from the data by MacKay's evidence framework:
        fits at fixed ``alpha`` alternate with its re-estimation until it
        settles (see :ref:`bayesian`).  ``"ard"`` (automatic relevance
        determination) does the same with one penalty for the weights
        leaving each input and one for each later layer, re-estimated after
        at most 25 iterations of the solver each: inputs the targets do not
        need are switched off (see :ref:`ard`).  Neither works with
        ``early_stopping`` or ``partial_fit``, nor for Dask input.  Both fit
        regression targets standardized (their fits do not depend on the
        targets' units; ``alpha_`` is the penalty on the standardized
        targets).  Either loop ends when its re-estimates settle, or keeps
        the fit of the highest log evidence once it stopped rising.
        ``"auto"`` is ``"ard"`` wherever it applies and its terms are exact
        (at most 5,000 parameters, or at most 5,000 rows times outputs),
        else the fixed penalty ``{auto}``.

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
        Maximum number of cost evaluations of ``"L-BFGS-B"``, ``"TNC"``,
        ``"lm"``, ``"scg"`` and ``"least_squares"``.

    tol : float, default=1e-4
        Tolerance: SciPy's ``gtol`` (``ftol`` for SLSQP, ``xtol`` for
        Newton-CG; ``"lm"``, ``"rprop"`` and ``"scg"`` stop when
        ``max|D| <= tol``); for
        ``solver="gd"`` and early stopping, the improvement of the loss or
        validation score below which an iteration does not count as
        progress.  With float32 data, an L-BFGS-B run that SciPy's
        relative-reduction test ends while ``max |D| > tol`` is restarted
        from where it stopped, and warns if float32 rounding keeps it from
        ``tol``.

    n_iter_no_change : int or np.inf, default=10
        Iterations without progress (see ``tol``) before ``solver="gd"`` or
        early stopping ends the fit; ``np.inf`` never stops for lack of
        progress.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data{stratified}, score it
        after every iteration of any solver (see ``scoring``), stop after
        ``n_iter_no_change`` iterations without improvement and keep the
        best parameters.  With ``X_val`` and ``y_val`` passed to ``fit``,
        those rows are scored instead and all of ``X`` trains; passing them
        requires ``early_stopping=True`` (as with
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`'s
        ``early_stopping=True``).
        ``partial_fit`` does not support it.

    validation_fraction : float, default=0.1
        Proportion of the data held out for early stopping; unused when
        ``fit`` receives ``X_val``.

    shuffle : bool, default=True
        Shuffle the rows every epoch of mini-batch gradient descent.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split and the shuffling.
        An int gives bit-identical fits.

    warm_start : bool, default=False
        Start from the weights of the previous fit.  Gradient descent also
        continues its ``"invscaling"`` step count; the momentum velocity and
        the step size start afresh, as in scikit-learn.

    verbose : bool or int, default=False
        Print the loss after every iteration (and the validation score with
        early stopping), for every solver.

    solver_options : dict, default=None
        Extra options for the SciPy method (e.g. ``{{"maxcor": 20}}`` for
        L-BFGS-B), ``"lm"``, ``"least_squares"``, ``"rprop"`` or ``"scg"``
        (see ``solver``); they
        override the ones derived from ``max_iter``, ``tol`` and
        ``max_fun``.  Unknown options raise a ``ValueError``, and so do the
        arguments ``minimize`` takes itself (``callback``, ``jac``,
        ``hess``, ``hessp``, ``bounds``, ``constraints``...).

    curvature : {{"exact", "gauss-newton"}}, default="exact"
        The curvature products the Newton-type SciPy methods and ``"scg"``
        receive: the exact Hessian ``H v`` or the positive semi-definite
        Gauss-Newton ``G v``, both by the R-operator.

    callback : callable, default=None
        Called after every iteration as ``callback(state)`` with a
        :class:`scipy.optimize.OptimizeResult` holding ``nit``, ``fun`` (the
        loss), ``x`` (a copy of the flat parameters) and
        ``validation_score``.  Returning True or a NumPy ``True`` (or raising
        ``StopIteration``) ends the fit with the current parameters.

    chunk_size : int, default=None
        Rows per block of the gradient accumulation: the memory beyond the
        data is ``O(chunk_size * widest layer)``.  None picks a
        cache-friendly size.
"""
)

# After each estimator's own last parameter (class_weight, loss).
PARAMETERS_END = """
    scoring : str, callable or None, default=None
        The validation score of early stopping (higher is better), computed
        on the validation rows after every iteration:

        - None: the estimator's :meth:`score` ({score}), weighted by the
          sample weights;
        - ``"loss"``: minus the mean loss of the validation rows, weighted
          as training weights them: the data term of the cost ``J``
          ({loss}), without the ``alpha`` penalty;
        - a scorer name such as ``"neg_log_loss"`` or ``"roc_auc"`` (see
          :ref:`sklearn:scoring_string_names`), or a callable
          ``scorer(estimator, X, y)``.

        Only used with ``early_stopping=True``.

    monotonic_cst : array-like of int of shape (n_features,) or dict, \
            default=None
        Monotonic constraint per feature: ``1`` nondecreasing, ``-1``
        nonincreasing, ``0`` none; or a dict ``{{feature_name: constraint}}``
        for ``X`` with column names (unlisted features: ``0``), as in
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor`.
        {monotone}
        is then nondecreasing in each feature constrained ``1`` and
        nonincreasing in each constrained ``-1``, whatever the other
        features: the first-layer weights of a constrained feature carry its
        sign, all later weights are non-negative, and the hidden
        activations must be monotone (not ``"gelu"`` or ``"silu"``).
        Enforced as bounds by ``"L-BFGS-B"``, ``"TNC"``, ``"SLSQP"`` and
        ``"trust-constr"``, and by projection by ``"gd"`` and ``"rprop"``;
        other solvers are refused.{multiclass}  With a convex activation
        (``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"softplus"``) the
        constrained network is a convex function of the inputs; ``"tanh"``
        and ``"logistic"`` have no such limit (see :ref:`extensions`).
"""

ATTRIBUTES = """\
    loss_ : float
        The cost ``J`` at the parameters kept, evaluated there (never a
        solver's own report); the last epoch's average for mini-batch
        gradient descent; ``J`` too when ``"least_squares"`` minimized a
        robust loss.

    best_loss_ : float or None
        The lowest loss seen; None with early stopping (see
        ``best_validation_score_``).

    loss_curve_ : list of float
        The loss after every iteration.  A fresh fit records ``n_iter_``
        entries; warm starts and ``partial_fit`` of ``solver="gd"``
        continue the curve, whose last ``n_iter_`` entries are then the
        last call's.

    validation_scores_ : list of float or None
        The validation score (see ``scoring``; minus the loss for
        ``scoring="loss"``) after every iteration, with early stopping.

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
        Number of iterations (epochs for ``solver="gd"``) of the last call
        to ``fit`` (1 after ``partial_fit``), as in scikit-learn; each call
        runs at most ``max_iter``.  They are the iterations the solver
        reported through its callback, one ``loss_curve_`` entry each;
        SciPy's ``nit`` may differ: Nelder-Mead counts its initial simplex,
        COBYQA reports every evaluation.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of output units.

    out_activation_ : str
        Output activation.

    optimize_result_ : scipy.optimize.OptimizeResult or None
        What SciPy returned; None for ``solver="gd"`` or when the fit was
        stopped by the callback, early stopping or an interrupt.
        ``"lm"`` and ``"least_squares"`` return one when stopped early too
        (``status`` says why); ``"least_squares"``'s lacks the data-sized
        ``jac`` and ``fun``.

    alpha_ : float or ndarray of shape (n_groups,)
        The penalty of the fit, on the scale of ``alpha``: ``alpha`` itself,
        or the evidence's choice for ``alpha="evidence"``.  For
        ``alpha="ard"``, one per group (``n_groups = n_features_in_ +
        n_layers_ - 2``): those of the weights leaving each input (a large
        value: an input the fit does not use), then one per later layer.

    n_effective_params_ : float or None
        With ``alpha="evidence"`` or ``"ard"``, the number of parameters
        the data determine: ``gamma = n_W - alpha tr(P M^-1)`` of the
        ``n_W`` weights (summed over the groups), plus the biases.  None
        otherwise.

    evidence_curve_ : list of float or None
        With ``alpha="evidence"`` or ``"ard"``, the log evidence ``log p(D | alpha)`` of
        each outer iteration's fit (its length is the number of outer
        iterations).  None otherwise.
{noise}"""

CLASSIFIER = (
    """Neural-network classifier trained by exact batch backpropagation.

    Minimizes the regularized log-loss ``J`` of a feed-forward network with
    its regularized batch gradient ``D``, computed by backpropagation and
    handed to any method of :func:`scipy.optimize.minimize` or to gradient
    descent.  Multiclass
    targets use a softmax output and the multinomial log-loss; binary and
    multilabel targets independent logistic outputs and the binary log-loss.
    It has the parameters, methods and fitted attributes of
    :class:`sklearn.neural_network.MLPClassifier`, but not its defaults
    (``solver="L-BFGS-B"`` rather than ``"adam"``, ``learning_rate_init``,
    ``momentum``, ``nesterovs_momentum``, ``batch_size``) nor its
    stochastic solvers: see :ref:`coming-from-sklearn`.

    Parameters
    ----------
"""
    + PARAMETERS.format(
        stratified=" (stratified by class)",
        alpha="1.0",
        auto="1.0",
        alpha_note=(
            "The default was chosen by cross-validation on scikit-learn's"
            "\n        bundled data sets; scikit-learn's ``1e-4`` lets a network"
            " interpolate\n        a few hundred rows."
        ),
    )
    + """
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, folded into the sample weights: a dict
        ``{class_label: weight}``, ``"balanced"`` for
        ``n_samples / (n_classes * np.bincount(y))``, or None for equal
        weights.  For multilabel targets, a list of such dicts (one per
        label) or ``"balanced"``.  Weights must be finite and non-negative.
"""
    + PARAMETERS_END.format(
        score="accuracy",
        loss="the log-loss",
        monotone=(
            "The predicted probability of ``classes_[1]`` (of each label, for"
            "\n        multilabel targets)"
        ),
        multiclass=(
            "\n        Binary and multilabel targets only: a softmax is not"
            "\n        monotone in its inputs."
        ),
    )
    + """
    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        The class labels (for multilabel targets, the label indices).

"""
    + ATTRIBUTES.format(noise="")
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


REGRESSOR = (
    """Neural-network regressor trained by exact batch backpropagation.

    Minimizes the regularized squared error (identity output) or half Poisson
    deviance (exponential output) of a feed-forward network with the batch
    gradient ``D`` of backpropagation, handed to any method of
    :func:`scipy.optimize.minimize` or to gradient descent.  It has the
    parameters, methods and fitted attributes of
    :class:`sklearn.neural_network.MLPRegressor`, but not its defaults nor its
    stochastic solvers: see :ref:`coming-from-sklearn`.

    Parameters
    ----------
"""
    + PARAMETERS.format(
        stratified="",
        alpha="1e-4",
        auto="1e-4",
        alpha_note=(
            "The default is scikit-learn's: weak, so that a network can fit a"
            "\n        smooth function closely.  For noisy targets set it from the data"
            '\n        with ``alpha="evidence"``, or by cross-validation.'
        ),
    )
    + """
    loss : str or Loss, default="squared_error"
        The loss of each row, by name or as an instance of
        :mod:`skbackprop.losses` (with parameters of its own):

"""
    + describe_losses("regression")
    + """

    quantile : float, default=None
        The quantile to predict, in (0, 1), with ``loss="quantile"``;
        ignored for the other losses.
"""
    + PARAMETERS_END.format(
        score="R^2",
        loss="half the squared error, or half the Poisson deviance",
        monotone="The prediction (each output's)",
        multiclass="",
    )
    + """
    Attributes
    ----------
"""
    + ATTRIBUTES.format(
        noise="""
    noise_variance_ : float or None
        The variance of the targets' Gaussian noise (``1 / beta``), for
        ``loss="squared_error"``: re-estimated by the evidence, or for a float
        ``alpha`` from the training residuals (see :ref:`bayesian`); None for
        ``loss="poisson"``, ``partial_fit`` and Dask input.
"""
    )
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


_FIT = """Fit the network to data.

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Training data.  float32 data are trained in float32.
        y : array-like of shape (n_samples,) or (n_samples, {columns})
            {y}
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples{class_weights}; at least one
            must be positive.
        X_val : {{array-like, sparse matrix}} of shape (n_val, n_features), \
                default=None
            Validation rows of early stopping (requires ``early_stopping=True``):
            scored after every iteration (see ``scoring``) instead of a
            ``validation_fraction`` of ``X``, so that all of ``X`` trains.  In
            a :class:`~sklearn.pipeline.Pipeline`, request it with
            ``set_fit_request(X_val=True, y_val=True)`` (metadata routing)
            and transform it like ``X`` with
            ``Pipeline(..., transform_input=["X_val"])``.
        y_val : array-like of shape (n_val,) or (n_val, {columns}), default=None
            The targets of ``X_val``, as ``y``.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows{class_weights}.

        Returns
        -------
        self : {name}
            The fitted estimator.
        """

CLASSIFIER_FIT = _FIT.format(
    name="BackpropClassifier",
    columns="n_labels",
    y="Class labels, or a label-indicator matrix for multilabel (dense, or "
    "sparse as for :class:`~sklearn.neural_network.MLPClassifier`: ``predict`` "
    "then returns a sparse matrix too).",
    class_weights=", multiplied by the class weights",
)

REGRESSOR_FIT = _FIT.format(
    name="BackpropRegressor",
    columns="n_outputs",
    y='Targets (non-negative for ``loss="poisson"``); dense, as '
    "scikit-learn's regression metrics take them.",
    class_weights="",
)
