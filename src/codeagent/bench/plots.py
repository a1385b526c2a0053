"""PNG plots of one or two runs (matplotlib, headless "Agg" backend).

- ``success_by_category.png``: success rate per category with 95 % Wilson intervals, runs side by side;
- ``failures.png``: failure categories per run;
- ``latency.png``: the distribution of seconds per task (empirical CDF), one line per run.

Example:
    >>> from codeagent.bench.report import summarize
    >>> paths = plot_runs([summarize("r", records)], [records], "reports/r")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codeagent.bench.records import FAILURE_KINDS, TaskRecord
from codeagent.bench.report import RunSummary


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'matplotlib>=3.8'") from None
    matplotlib.use("Agg")  # no display needed; must happen before pyplot is imported
    import matplotlib.pyplot as plt

    return plt


def plot_runs(
    summaries: Sequence[RunSummary], records: Sequence[Sequence[TaskRecord]], out_dir: str | Path
) -> list[Path]:
    """Write the three plots for `summaries` (one or more runs) into `out_dir`; returns their paths."""
    plt = _pyplot()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _success_by_category(plt, summaries, folder / "success_by_category.png"),
        _failures(plt, summaries, folder / "failures.png"),
        _latency(plt, summaries, records, folder / "latency.png"),
    ]


def _success_by_category(plt: Any, summaries: Sequence[RunSummary], path: Path) -> Path:
    categories = sorted({c for s in summaries for c in s.categories})
    labels = ["all", *categories] if len(categories) > 1 else categories or ["all"]
    width = 0.8 / max(1, len(summaries))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) * len(summaries) + 2), 4))
    for index, summary in enumerate(summaries):
        rates, lows, highs = [], [], []
        for label in labels:
            if label == "all":
                rate, (low, high) = summary.success_rate, summary.ci
            elif label in summary.categories:
                stats = summary.categories[label]
                rate, (low, high) = stats.rate, stats.ci
            else:
                rate, low, high = 0.0, 0.0, 0.0
            rates.append(100 * rate)
            lows.append(100 * max(0.0, rate - low))  # rounding can put a bound a hair past the rate
            highs.append(100 * max(0.0, high - rate))
        positions = [i + (index - (len(summaries) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(positions, rates, width, yerr=[lows, highs], capsize=3, label=summary.name)
    ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0, ha="right")
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Success by category (95 % CI)")
    return _save(plt, fig, ax, path, legend=len(summaries) > 1)


def _failures(plt: Any, summaries: Sequence[RunSummary], path: Path) -> Path:
    kinds = list(FAILURE_KINDS)
    width = 0.8 / max(1, len(summaries))
    fig, ax = plt.subplots(figsize=(7, 4))
    for index, summary in enumerate(summaries):
        positions = [i + (index - (len(summaries) - 1) / 2) * width for i in range(len(kinds))]
        ax.bar(positions, [summary.failures.get(k, 0) for k in kinds], width, label=summary.name)
    ax.set_xticks(range(len(kinds)), [k.replace("_", " ") for k in kinds])
    ax.set_ylabel("tasks")
    ax.set_title("Failure categories")
    return _save(plt, fig, ax, path, legend=len(summaries) > 1)


def _latency(
    plt: Any, summaries: Sequence[RunSummary], records: Sequence[Sequence[TaskRecord]], path: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for summary, run_records in zip(summaries, records, strict=False):
        durations = sorted(r.duration_s for r in run_records)
        if durations:
            fractions = [(i + 1) / len(durations) for i in range(len(durations))]
            ax.step(durations, fractions, where="post", label=summary.name)
    ax.set_xlabel("seconds per task")
    ax.set_ylabel("fraction of tasks")
    ax.set_title("Latency (empirical CDF)")
    ax.grid(alpha=0.3)
    return _save(plt, fig, ax, path, legend=len(summaries) > 1)


def _save(plt: Any, fig: Any, ax: Any, path: Path, *, legend: bool) -> Path:
    """Lay out, write (PNG) and close a figure."""
    if legend:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_runs"]
