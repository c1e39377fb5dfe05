"""Figures from the benchmark results files, generated at build time.

The benchmarks write ``benchmarks/results/results.json`` (``run.py``),
``second_order.json`` (``bench_second_order.py``), ``small.json``
(``bench_small.py``) and ``defaults.json`` (``bench_defaults.py``); the
figures and tables of the last two are built in ``bench_tables_extra``.  Every
number the documentation quotes from a benchmark is computed here from those
files, so the text and the measurements cannot drift apart:

* ``|name|`` substitutions, available on every page (the keys of
  :func:`figures`, for example ``|hv-cost|``);
* ``.. benchmark-table:: NAME`` inserts one of the tables of :func:`tables`;
* the README quotes some of the same figures: the build warns (an error
  under ``-W``) when a sentence of :func:`readme_phrases` is missing from
  ``README.md``, and prints the sentence the results give.

Rerunning a benchmark updates the docs at the next build; the README then
fails the build until its figures are updated too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import bench_tables_extra as extra
from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
FIRST_ORDER = ("L-BFGS-B", "CG")
PROBLEMS = {  # key in second_order.json -> how the text names the problem
    "classification": "digits",
    "regression": "Friedman #1",
    "regression, badly scaled": "Friedman #1, badly scaled",
}

logger = logging.getLogger(__name__)


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def span(values, fmt: str = "{:.1f}") -> str:
    """``"a–b"`` (an en dash) for the smallest and largest value, or one."""
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}–{hi}"


def times(x: float) -> str:
    """A ratio as the text states it: ``1.5×`` below 3, ``5×`` above."""
    return f"{x:.1f}×" if x < 3 else f"{x:.0f}×"


def _newton(problem: dict) -> dict:
    return {
        label: entry
        for label, entry in problem["solvers"].items()
        if label not in FIRST_ORDER and not label.startswith("sklearn")
    }


def _reach(problem: dict, k: int) -> tuple[dict, dict[str, dict]]:
    """L-BFGS-B's hit of target ``k``, and the Newton-type solvers' hits."""
    lbfgs = problem["solvers"]["L-BFGS-B"]["reach"][k]
    hits = {
        label: entry["reach"][k]
        for label, entry in _newton(problem).items()
        if entry["reach"][k] is not None
    }
    return lbfgs, hits


def curvature_costs(results: dict) -> dict[str, dict[str, float]]:
    """Per problem: the cost of one ``H v`` and ``G v``, in gradients."""
    return {
        key: {
            "exact": problem["costs"]["hessp_exact"] / problem["costs"]["cost_grad"],
            "gauss-newton": problem["costs"]["hessp_gauss_newton"]
            / problem["costs"]["cost_grad"],
        }
        for key, problem in results.items()
    }


def figures() -> dict[str, str]:
    """Every quoted figure, by substitution name."""
    so = load("second_order.json")
    results = so["results"]
    costs = curvature_costs(results)
    out = {
        "hv-cost": span([c for p in costs.values() for c in p.values()]),
        "hv-cost-exact": span([p["exact"] for p in costs.values()]),
        "hv-cost-gn": span([p["gauss-newton"] for p in costs.values()]),
        "so-date": so["env"]["date"].split(" / ")[0].split()[0],
    }
    perf = load("results.json")
    system = perf["system"]
    out["perf-date"] = system["date"]
    out["perf-machine"] = extra.machine(system)
    out["perf-peak-float64"] = f"{perf['peak']['float64']:.1f}"
    out["perf-peak-float32"] = f"{perf['peak']['float32']:.1f}"
    # Digits: the first target (no Newton-type solver reaches the second).
    lbfgs, hits = _reach(results["classification"], 0)
    best = min(hits.values(), key=lambda h: h["time"])
    out["so-digits-lbfgs-faster"] = times(best["time"] / lbfgs["time"])
    # Friedman #1 and its badly scaled variant: the second, tighter target.
    for key, tag in (("regression", "friedman"), ("regression, badly scaled", "bad")):
        problem = results[key]
        lbfgs, hits = _reach(problem, 1)
        best = min(hits.values(), key=lambda h: h["time"])
        out[f"so-{tag}-lbfgs-iters"] = f"{lbfgs['iters']:,}"
        out[f"so-{tag}-lbfgs-time"] = f"{lbfgs['time']:.1f} s"
        out[f"so-{tag}-newton-iters"] = span([h["iters"] for h in hits.values()], "{}")
        out[f"so-{tag}-newton-best-iters"] = f"{best['iters']}"
        out[f"so-{tag}-newton-best-time"] = f"{best['time']:.1f} s"
        out[f"so-{tag}-lbfgs-faster"] = times(best["time"] / lbfgs["time"])
        out[f"so-{tag}-newton-reached"] = f"{len(hits)} of {len(_newton(problem))}"
    out.update(extra.small_figures(load("small.json")))
    out.update(extra.defaults_figures(load("defaults.json")))
    return out


def _list_table(header: list[str], rows: list[list[str]], widths=None) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {' '.join(map(str, widths))}")
    lines.append("")
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return lines


def tables() -> dict[str, list[str]]:
    """The generated tables, as reStructuredText lines, by name."""
    so = load("second_order.json")
    results = so["results"]
    costs = curvature_costs(results)
    out = {}
    rows = []
    for key, problem in results.items():
        c = problem["costs"]
        rows.append(
            [
                PROBLEMS.get(key, key),
                f"{c['n_params']:,}",
                f"{1e3 * c['cost_grad']:.2f} ms",
                f"{1e3 * c['hessp_exact']:.2f} ms ({costs[key]['exact']:.1f})",
                f"{1e3 * c['hessp_gauss_newton']:.2f} ms "
                f"({costs[key]['gauss-newton']:.1f})",
            ]
        )
    out["curvature-costs"] = _list_table(
        ["problem", "parameters", "gradient", "H v (gradients)", "G v (gradients)"],
        rows,
    )
    rows = []
    for key, problem in results.items():
        for k, target in enumerate(problem["targets"]):
            lbfgs, hits = _reach(problem, k)
            if hits:
                label, best = min(hits.items(), key=lambda item: item[1]["time"])
                newton = (
                    f"{span([h['iters'] for h in hits.values()], '{}')} "
                    f"({len(hits)} of {len(_newton(problem))} solvers)"
                )
                fastest = f"{label}: {best['time']:.2f} s, {best['iters']} it."
            else:
                newton, fastest = "not reached", "—"
            rows.append(
                [
                    PROBLEMS.get(key, key),
                    f"{target:.3g} (L-BFGS-B, {problem['target_iters'][k]:,} it.)",
                    f"{lbfgs['time']:.2f} s",
                    newton,
                    fastest,
                ]
            )
    out["second-order"] = _list_table(
        [
            "problem",
            "target loss",
            "L-BFGS-B time",
            "Newton-type iterations",
            "fastest Newton-type",
        ],
        rows,
    )
    perf = load("results.json")
    grad = {(g["lib"], g["m"], g["dtype"]): g for g in perf["gradient"]}
    rows = []
    for (lib, m, dtype), g in grad.items():
        if lib != "skbackprop":
            continue
        sk = grad[("sklearn", m, dtype)]
        rows.append(
            [
                f"{m:,}",
                dtype,
                f"{g['gflops']:.1f}",
                f"{100 * g['fraction_of_peak']:.0f}%",
                f"{sk['gflops']:.1f}",
                f"{sk['seconds'] / g['seconds']:.2f}×",
            ]
        )
    out["gradient"] = _list_table(
        [
            "rows m",
            "dtype",
            "GFLOP/s",
            "of the run's best GEMM",
            "scikit-learn GFLOP/s",
            "speed-up",
        ],
        rows,
    )
    fits = {(f["lib"], f["dtype"]): f for f in perf["fit"]}
    rows = []
    for dtype in ("float64", "float32"):
        ours, sk = fits[("skbackprop", dtype)], fits[("sklearn", dtype)]
        rows.append(
            [
                dtype,
                f"{ours['seconds']:.1f} s",
                f"{sk['seconds']:.1f} s",
                f"{sk['seconds'] / ours['seconds']:.2f}×",
                f"{ours['n_evals']} / {sk['n_evals']}",
                f"{ours['loss']:.5f} / {sk['loss']:.5f}",
            ]
        )
    out["lbfgs-fit"] = _list_table(
        [
            "dtype",
            "skbackprop",
            "scikit-learn",
            "speed-up",
            "evaluations",
            "final loss",
        ],
        rows,
    )
    for name, (header, rows) in {
        **extra.small_tables(load("small.json")),
        **extra.defaults_tables(load("defaults.json")),
    }.items():
        out[name] = _list_table(header, rows)
    return out


def readme_phrases() -> list[str]:
    """Sentences of README.md whose figures come from the results files."""
    f = figures()
    perf = load("results.json")
    phrases = [
        f"Each product costs {f['hv-cost']} gradients",
        f"L-BFGS-B's {f['so-friedman-lbfgs-iters'].replace(',', '')}-iteration "
        f"loss on Friedman #1 in {f['so-friedman-newton-iters']} iterations",
        f"L-BFGS-B is still {f['so-friedman-lbfgs-faster']} faster in wall time "
        f"there and {f['so-digits-lbfgs-faster']} faster on digits",
        f"({f['so-bad-newton-best-iters']} iterations against "
        f"{f['so-bad-lbfgs-iters']}, {f['so-bad-newton-best-time']} against "
        f"{f['so-bad-lbfgs-time']})",
    ]
    # The README's tables: one Markdown row per size and dtype.
    grad = {(g["lib"], g["m"], g["dtype"]): g for g in perf["gradient"]}
    for (lib, m, dtype), g in grad.items():
        if lib == "skbackprop":
            sk = grad[("sklearn", m, dtype)]
            phrases.append(
                f"| {m:,} | {dtype} | {g['gflops']:.1f} | "
                f"{100 * g['fraction_of_peak']:.0f}% | {sk['gflops']:.1f} | "
                f"{sk['seconds'] / g['seconds']:.2f}× |"
            )
    peak, sgd = perf["peak"], {g["dtype"]: g for g in perf["sgd"]}
    mem = {(m["lib"], m["m"], m["dtype"]): m["traced_peak_mib"] for m in perf["memory"]}
    sizes = sorted({m for _, m, _ in mem})
    lo, hi = sizes[0], sizes[-1]
    phrases += [
        f"run: {peak['float64']:.1f} GFLOP/s in float64, "
        f"{peak['float32']:.1f} in float32",
        f"runs an epoch {sgd['float64']['speedup_vs_sklearn']:.2f}× faster than "
        f"scikit-learn's `sgd` in float64 and "
        f"{sgd['float32']['speedup_vs_sklearn']:.2f}× in float32",
        f"allocates {mem[('skbackprop', lo, 'float64')]:,.0f} → "
        f"{mem[('skbackprop', hi, 'float64')]:,.0f} MiB beyond the data from "
        f"m = {lo:,} to {hi:,} rows",
        f"scikit-learn's {mem[('sklearn', lo, 'float64')]:,.0f} → "
        f"{mem[('sklearn', hi, 'float64')]:,.0f} MiB",
    ]
    fits = {(f["lib"], f["dtype"]): f for f in perf["fit"]}
    for dtype in ("float64", "float32"):
        ours, sk = fits[("skbackprop", dtype)], fits[("sklearn", dtype)]
        phrases.append(
            f"| {ours['seconds']:.1f} s | {sk['seconds']:.1f} s | "
            f"{sk['seconds'] / ours['seconds']:.2f}× | "
            f"{ours['loss']:.5f} vs {sk['loss']:.5f} |"
        )
    return phrases


def _unreadable(error: Exception) -> None:
    logger.warning(
        f"benchmark results not readable ({type(error).__name__}: {error}); "
        f"the docs quote figures from {RESULTS.relative_to(ROOT)}/*.json "
        "(docs/sphinxext/bench_figures.py)"
    )


def _check_readme(app) -> None:
    try:
        phrases = readme_phrases()
    except (OSError, KeyError, ValueError, TypeError) as error:
        _unreadable(error)
        return
    text = re.sub(r"\s+", " ", (ROOT / "README.md").read_text(encoding="utf-8"))
    for phrase in phrases:
        if re.sub(r"\s+", " ", phrase) not in text:
            logger.warning(
                "README.md does not state the benchmark results: expected "
                f"{phrase!r} (from benchmarks/results/*.json)"
            )


class BenchmarkTable(Directive):
    """``.. benchmark-table:: NAME``: a table of :func:`tables`."""

    required_arguments = 1

    def run(self):
        try:
            generated = tables()
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise self.error(f"benchmark results not readable: {error}") from error
        name = self.arguments[0]
        if name not in generated:
            raise self.error(f"unknown benchmark table {name!r}: {sorted(generated)}")
        for path in RESULTS.glob("*.json"):  # rebuild the page when they change
            self.state.document.settings.record_dependencies.add(str(path))
        container = nodes.container()
        self.state.nested_parse(
            StringList(generated[name], source="benchmarks/results"),
            self.content_offset,
            container,
        )
        return container.children


def _substitutions(app, config) -> None:
    try:
        values = figures()
    except (OSError, KeyError, ValueError, TypeError) as error:
        _unreadable(error)
        return
    lines = [f".. |{name}| replace:: {value}" for name, value in values.items()]
    config.rst_prolog = "\n".join([config.rst_prolog or "", *lines, ""])


def setup(app):
    app.connect("config-inited", _substitutions)
    app.connect("builder-inited", _check_readme)
    app.add_directive("benchmark-table", BenchmarkTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
