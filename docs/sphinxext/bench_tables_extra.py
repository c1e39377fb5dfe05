"""Figures and tables of the everyday-size and default-settings benchmarks.

``benchmarks/bench_small.py`` writes ``small.json`` and
``benchmarks/bench_defaults.py`` writes ``defaults.json``.  The functions here
turn those results into ``|name|`` substitutions (:func:`small_figures`,
:func:`defaults_figures`) and ``(header, rows)`` tables (:func:`small_tables`,
:func:`defaults_tables`); ``bench_figures`` loads the files and formats them.
The thresholds and settings the scripts keep in their source, not in the
results, are read from it (:func:`constants`), so the text cannot drift.
"""

from __future__ import annotations

import ast
import importlib
import math
import re
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SOLVERS = {  # solver in small.json -> how the tables name the comparison
    "L-BFGS-B": "L-BFGS-B vs ``lbfgs``",
    "gd": "``gd`` vs ``sgd``",
}
SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
Table = tuple[list[str], list[list[str]]]


def constants(script: str) -> dict:
    """The module-level literal constants of ``benchmarks/<script>``."""
    tree = ast.parse((BENCHMARKS / script).read_text(encoding="utf-8"))
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        pairs = [(target, value)]
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            pairs = list(zip(target.elts, value.elts, strict=False))
        for name, expr in pairs:
            if isinstance(name, ast.Name):
                try:
                    out[name.id] = ast.literal_eval(expr)
                except ValueError:  # not a literal
                    pass
    return out


def machine(system: dict) -> str:
    """The machine and library versions of a run, in one line."""
    return (
        f"{system['cpu']}, {system['cores']} cores, Python {system['python']}, "
        f"NumPy {system['numpy']}, SciPy {system['scipy']}, "
        f"scikit-learn {system['sklearn']}"
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _pretty(text: str) -> str:
    """A label of the results as the docs print it: ``≥``, ``×``."""
    text = text.replace(">=", "≥").replace(" x ", " × ")
    return re.sub(r"(\d)x\b", r"\1×", text)


def _power(x: float) -> str:
    """``5e9`` as ``5 × 10⁹``."""
    mantissa, exponent = f"{x:.2g}".split("e")
    return f"{mantissa} × 10" + str(int(exponent)).translate(SUPERSCRIPTS)


def _seconds(s: float) -> str:
    return f"{s:.3f} s"


def _geometric_mean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def small_figures(small: dict) -> dict[str, str]:
    """The substitutions of the everyday-size benchmark, ``small-*``."""
    cfg, system = small["config"], small["system"]
    script = constants("bench_small.py")
    return {
        "small-date": system["date"] + (" (a quick run)" if small["quick"] else ""),
        "small-machine": machine(system),
        "small-repeats": str(cfg["repeats"]),
        "small-cells": str(len(small["cells"])),
        "small-m": _and([f"{m:,}" for m in cfg["m"]]),
        "small-hidden": _and([str(tuple(h)) for h in cfg["hidden"]]),
        "small-dtypes": _and(cfg["dtypes"]),
        "small-lbfgs-work": _power(cfg["lbfgs_work"]),
        "small-lbfgs-iter": "{} to {}".format(*cfg["lbfgs_iter"]),
        "small-gd-work": _power(cfg["gd_work"]),
        "small-gd-epochs": "{} to {}".format(*cfg["gd_epochs"]),
        "small-batch": str(script["BATCH"]),
        "small-momentum": f"{script['MOMENTUM']:g}",
        "small-learning-rate": f"{script['LEARNING_RATE']:g}",
        "small-cell-target": f"{constants('_small_report.py')['CELL_TARGET']:g}×",
    }


def small_tables(small: dict) -> dict[str, Table]:
    """The everyday fits, a summary of the grid, the grid, the targets."""
    cells, cfg = small["cells"], small["config"]
    target = constants("_small_report.py")["CELL_TARGET"]
    out = {}
    out["small-everyday"] = (
        ["fit", "skbackprop", "scikit-learn", "speed-up"],
        [
            [
                _pretty(r["fit"]),
                _seconds(r["skbackprop"]["seconds"]),
                _seconds(r["sklearn"]["seconds"]),
                f"{r['ratio']:.2f}×",
            ]
            for r in small["everyday"]
        ],
    )
    groups = [("all cells", cells)]
    groups += [
        (label, [c for c in cells if c["solver"] == solver])
        for solver, label in SOLVERS.items()
    ]
    groups += [(d, [c for c in cells if c["dtype"] == d]) for d in cfg["dtypes"]]
    out["small-summary"] = (
        ["cells", "geometric mean of the speed-ups", f"at least {target:g}×"],
        [
            [
                label,
                f"{_geometric_mean([c['ratio'] for c in group]):.2f}×",
                f"{sum(c['ratio'] >= target for c in group)} of {len(group)}",
            ]
            for label, group in groups
            if group
        ],
    )
    by_cell = {(c["solver"], c["m"], tuple(c["hidden"]), c["dtype"]): c for c in cells}
    rows = []
    for solver, m, hidden in dict.fromkeys(key[:3] for key in by_cell):
        found = [by_cell.get((solver, m, hidden, d)) for d in cfg["dtypes"]]
        budget = next(c["budget"] for c in found if c)
        rows.append(
            [
                SOLVERS.get(solver, solver),
                f"{m:,}",
                str(hidden),
                str(budget),
                *(f"{c['ratio']:.2f}×" if c else "—" for c in found),
            ]
        )
    out["small-grid"] = (
        ["solver", "rows m", "hidden", "iterations / epochs", *cfg["dtypes"]],
        rows,
    )
    out["small-targets"] = (
        ["target", "measured", "met"],
        [
            [_pretty(t["target"]), _pretty(t["measured"]), "yes" if t["met"] else "no"]
            for t in small["targets"]
        ],
    )
    return out


def defaults_figures(defaults: dict) -> dict[str, str]:
    """The substitutions of the default-settings benchmark, ``defaults-*``."""
    system, tolerance = defaults["system"], constants("bench_defaults.py")["TOLERANCE"]
    return {
        "defaults-date": system["date"],
        "defaults-machine": machine(system),
        "defaults-repeats": str(defaults["repeats"]),
        "defaults-tol-accuracy": f"{tolerance['accuracy']:g}",
        "defaults-tol-r2": f"{tolerance['r2']:g}",
    }


def _defaults_report():
    """``benchmarks/_defaults_report.py``, which renders the same tables for
    the benchmark's report and the READMEs (imported from its directory, as
    the benchmark scripts import it)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("_defaults_report")


def defaults_tables(defaults: dict) -> dict[str, Table]:
    """Scores, times, the units and error-bar checks, and the rule's
    verdict per skbackprop configuration: the report's own tables."""
    report = _defaults_report()
    return {
        "defaults": report.score_table(defaults),
        "defaults-times": report.time_table(defaults),
        "defaults-checks": report.checks_table(defaults),
        "defaults-rule": report.rule_table(defaults),
    }
