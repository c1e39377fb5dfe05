"""Docstring sections the two estimators share (numpydoc)."""

PARAMETERS = """\
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
        - ``"lm"``: Levenberg-Marquardt (Hagan & Menhaj 1994; MATLAB's
          ``trainlm``), every loss: each iteration solves
          ``(G + mu I) p = -D`` with the dense Gauss-Newton matrix ``G`` by
          Cholesky.  Often the fastest on small networks (up to a few
          hundred weights), refused above 3,000; ``solver_options`` sets
          ``damping`` (``"trainlm"`` or ``"nielsen"``), ``mu``, ``mu_dec``,
          ``mu_inc``, ``mu_max``.
        - ``"least_squares"``: :func:`scipy.optimize.least_squares` on the
          residuals of squared-error regression; ``solver_options`` passes
          ``method``, ``loss`` (robust losses such as ``"soft_l1"``),
          ``f_scale`` (in the targets' units), ``x_scale``, ``tr_solver``,
          ``tr_options``, ``ftol``, ``xtol``, ``gtol``, ``max_nfev``.

    alpha : float or "evidence", default=1e-4
        L2 penalty ``lambda`` on the weights (not the biases), scaled as
        ``alpha / (2 S) sum ||W||^2`` with ``S`` the total sample weight.
        ``"evidence"`` sets it from the data by MacKay's evidence framework:
        fits at fixed ``alpha`` alternate with its re-estimation until it
        settles (see :ref:`bayesian`); not with ``early_stopping`` or
        ``partial_fit``, nor for Dask input.

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
        ``"lm"`` and ``"least_squares"``.

    tol : float, default=1e-4
        Tolerance: SciPy's ``gtol`` (``ftol`` for SLSQP, ``xtol`` for
        Newton-CG; ``"lm"`` stops when ``max|D| <= tol``); for
        ``solver="gd"`` and early stopping, the improvement of the loss or
        validation score below which an iteration does not count as
        progress.

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
        L-BFGS-B), ``"lm"`` or ``"least_squares"`` (see ``solver``); they
        override the ones derived from ``max_iter``, ``tol`` and
        ``max_fun``.  Unknown options raise a ``ValueError``.

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

ATTRIBUTES = """\
    loss_ : float
        The cost ``J`` at the final parameters (the last epoch's average for
        mini-batch gradient descent; ``J`` too when ``"least_squares"``
        minimized a robust loss).

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
        ``"lm"`` and ``"least_squares"`` return one when stopped early too
        (``status`` says why); ``"least_squares"``'s lacks the data-sized
        ``jac`` and ``fun``.

    alpha_ : float
        The penalty of the fit, on the scale of ``alpha``: ``alpha`` itself,
        or the evidence's choice for ``alpha="evidence"``.

    n_effective_params_ : float or None
        With ``alpha="evidence"``, the number of parameters the data
        determine: ``gamma = n_W - alpha tr(P M^-1)`` of the ``n_W``
        weights, plus the biases.  None otherwise.

    evidence_curve_ : list of float or None
        With ``alpha="evidence"``, the log evidence ``log p(D | alpha)`` of
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
    A drop-in for :class:`sklearn.neural_network.MLPClassifier`.

    Parameters
    ----------
"""
    + PARAMETERS.format(stratified=" (stratified by class)")
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
    :func:`scipy.optimize.minimize` or to gradient descent.  A drop-in for
    :class:`sklearn.neural_network.MLPRegressor`.

    Parameters
    ----------
"""
    + PARAMETERS.format(stratified="")
    + """
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: ``1/2 ||a - y||^2`` with an identity output.
        ``"poisson"``: half the Poisson deviance with an exponential output,
        for non-negative targets such as counts.

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
