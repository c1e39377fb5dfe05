"""The training layer: objectives, solvers and their loops, progress.

* :mod:`~skbackprop._training.objective`: the objective protocol and its
  in-memory implementation.
* :mod:`~skbackprop._training.dask`: the objective of data on a Dask cluster.
* :mod:`~skbackprop._training.progress`: loss curve, stopping rules, verbose
  output and the user's callback.
* :mod:`~skbackprop._training.solvers`: the registry of solvers, one module
  per family (SciPy's ``minimize``, gradient descent, Levenberg-Marquardt,
  SciPy's ``least_squares``...).
* :mod:`~skbackprop._training.solve`: one entry point, :func:`train`, and
  the one place that handles how a run ended.

Imports only the engine, never the estimators.
"""
