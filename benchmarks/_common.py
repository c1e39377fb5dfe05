"""What every benchmark script shares: timing, the machine, the output files.

* :func:`interleaved_best` is THE timing helper: the functions compared run in
  turns (all see the same load on a shared machine), each call after a settle
  pause (:data:`SETTLE_S`), and the best of the rounds is kept.
* :func:`system_info` records the machine, the library versions and the BLAS
  thread setting; :func:`blas_description` says it in one line.
* :func:`write_outputs` writes ``<stem>.json``, ``<stem>.md`` and
  ``<stem>.png`` of a suite; :func:`md_table` formats a Markdown table.

The scripts import this module as ``_common`` (they run from this folder).
"""

import datetime
import json
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_info

import skbackprop

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# OpenBLAS's threads spin for about 0.1 s after a multi-threaded call before
# they sleep, on the cores the next timed function needs: each timed call
# starts after this pause, so that none pays for its predecessor's threads.
SETTLE_S = 0.15


def settle(pause=SETTLE_S):
    """Let BLAS threads woken by earlier calls fall asleep (see SETTLE_S)."""
    if pause:
        time.sleep(pause)


class Timing(NamedTuple):
    """The timings of one function: ``best`` and ``median`` seconds per call,
    the ``repeats`` timed, and the ``value`` its fastest call returned."""

    best: float
    median: float
    repeats: int
    value: Any


def interleaved_best(
    fns,
    min_time=0.0,
    min_rounds=3,
    max_rounds=50,
    warmup=True,
    number=1,
    pause=SETTLE_S,
):
    """The best wall time of each of ``fns``, run in turns.

    Run in turns, every function sees the same changes of load on a shared
    machine, so their ratios are fair even when the load varies.  Each timed
    sample starts on settled cores (:func:`settle`).

    Parameters
    ----------
    fns : sequence of callables
        The functions compared, called without arguments.
    min_time : float, default=0.0
        Keep adding rounds (up to ``max_rounds``) until the timed calls of all
        functions took this many seconds together.
    min_rounds, max_rounds : int
        Bounds on the rounds; ``min_rounds == max_rounds`` is "best of N".
    warmup : bool, default=True
        Call each function once, untimed, first (caches, buffers, imports);
        off for whole fits, which are their own warm-up.
    number : int, default=1
        Calls per timed sample (for calls too short to time one by one); the
        times are per call.
    pause : float, default=SETTLE_S
        Seconds of rest before each timed sample.

    Returns
    -------
    list of Timing
        One per function, in the order of ``fns``.
    """
    if warmup:
        for f in fns:
            f()
    times = [[] for _ in fns]
    values: list[Any] = [None] * len(fns)
    while len(times[0]) < max_rounds and (
        len(times[0]) < min_rounds or sum(map(sum, times)) * number < min_time
    ):
        for k, f in enumerate(fns):
            settle(pause)
            t = time.perf_counter()
            for _ in range(number):
                value = f()
            t = (time.perf_counter() - t) / number
            if not times[k] or t < min(times[k]):
                values[k] = value
            times[k].append(t)
    return [
        Timing(min(ts), float(np.median(ts)), len(ts), v)
        for ts, v in zip(times, values, strict=True)
    ]


def fit_quietly(est, X, y):
    """``est.fit(X, y)`` with budget-exhaustion warnings silenced (they are
    expected: the benchmarks fix the iteration budget)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


class CountingMLPClassifier(MLPClassifier):
    """scikit-learn's MLP, counting its L-BFGS cost/gradient evaluations."""

    def _loss_grad_lbfgs(self, *args, **kwargs):
        self.n_evals_ = getattr(self, "n_evals_", 0) + 1
        return super()._loss_grad_lbfgs(*args, **kwargs)


class CountingMLPRegressor(MLPRegressor):
    """scikit-learn's MLP regressor, counting its L-BFGS evaluations."""

    def _loss_grad_lbfgs(self, *args, **kwargs):
        self.n_evals_ = getattr(self, "n_evals_", 0) + 1
        return super()._loss_grad_lbfgs(*args, **kwargs)


def geometric_mean(values):
    values = np.asarray(list(values), dtype=float)
    return float(np.exp(np.mean(np.log(values))))


# -- the machine ---------------------------------------------------------------
def system_info():
    """Date, CPU, cores, library versions and the BLAS libraries' setting."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = [
        {k: v for k, v in lib.items() if k != "filepath"}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "skbackprop": skbackprop.__version__,
        "blas": blas,
        "load_average_start": os.getloadavg(),
    }


def blas_description(info):
    """The BLAS libraries of :func:`system_info` in one line."""
    return ", ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} "
        f"threads, {b.get('architecture')})"
        for b in info["blas"]
    )


def blas_setting(info):
    """The run's BLAS thread setting: the default or a ``threadpool_limits``."""
    limit = info.get("blas_threads_limit")
    if limit is None:
        return "the user's default (skbackprop chooses its own inside a fit)"
    return (
        f"`threadpool_limits({limit})` around the whole run, as a user's "
        "(skbackprop chooses its own inside a fit)"
    )


def environment_lines(info):
    """Markdown bullet lines: date, machine and load, versions, BLAS."""
    end = info.get("load_average_end")
    load = f"load average {info['load_average_start'][0]:.2f} at start" + (
        f", {end[0]:.2f} at end" if end else ""
    )
    return [
        f"- Date: {info['date']}",
        f"- Machine: {info['cpu']}, {info['cores']} cores; {load}",
        f"- Python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"scikit-learn {info['sklearn']}, skbackprop {info['skbackprop']}",
        f"- BLAS: {blas_description(info)}",
    ]


# -- output --------------------------------------------------------------------
def md_table(header, rows, align=None):
    """A Markdown table; ``align`` is a string of ``l``/``r``, one per column
    (default: the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(rule) + "|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows),
    ]


def write_outputs(out, stem, results, markdown, plot=None):
    """Write ``<stem>.json``, ``<stem>.md`` (the text ``markdown``) and, with
    ``plot(results, path)``, ``<stem>.png`` in the folder ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown)
    written = [f"{stem}.md", f"{stem}.json"]
    if plot is not None:
        plot(results, out / f"{stem}.png")
        written.append(f"{stem}.png")
    print(markdown)
    print(f"Wrote {', '.join(str(out / name) for name in written)}")
