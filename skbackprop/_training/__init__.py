"""The training layer: objectives, solvers and their loops, progress.

* :mod:`~skbackprop._training.objective`: the objective protocol and its
  in-memory implementation.
* :mod:`~skbackprop._training.dask`: the objective of data on a Dask cluster.
* :mod:`~skbackprop._training.progress`: loss curve, stopping rules, verbose
  output and the user's callback.
* :mod:`~skbackprop._training.scipy_bridge`: SciPy's ``minimize``.
* :mod:`~skbackprop._training.gd`: gradient descent.
* :mod:`~skbackprop._training.lm`: Levenberg-Marquardt on the dense
  Gauss-Newton matrix.
* :mod:`~skbackprop._training.least_squares`: SciPy's ``least_squares`` on
  the residuals of squared-error regression.
* :mod:`~skbackprop._training.solve`: one entry point, :func:`train`, and the
  table of solvers it dispatches to.

Imports only the engine, never the estimators.
"""
