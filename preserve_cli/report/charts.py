"""The report's charts (matplotlib, object API: no pyplot state, no display needed).

Each chart is one small function ReportData -> Figure, or None when its inputs were
not given; CHARTS is the registry the report walks in order.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from preserve_cli.audit.audit import capacity_use
from preserve_cli.report.inputs import ReportData, quantile_band, quantile_column

METRICS = (("prefill_tokens", "prefill (prompt) tokens"), ("decode_tokens", "decode (generated) tokens"))
MILLION = 1e6


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    draw: Callable[[ReportData], Figure | None]


def _dates(starts: np.ndarray) -> np.ndarray:
    return np.asarray(starts, dtype="datetime64[s]")


def _time_axis(ax) -> None:
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(True, alpha=0.3)


def _step(ax, starts: np.ndarray, values: np.ndarray, window_s: int, **style) -> None:
    """A step line whose last window is drawn to its end, not cut at its start."""
    edges = np.append(starts, starts[-1] + np.timedelta64(window_s, "s"))
    ax.step(edges, np.append(values, values[-1]), where="post", **style)


def _figure(rows: int = 1, height: float = 3.6) -> tuple[Figure, list]:
    fig = Figure(figsize=(10, height * rows), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, list(axes)


def _demand_total(data: ReportData, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """History summed over series; whole-window estimates, NaN where missing (drawn as gaps)."""
    if data.demand is None or not data.demand.series:
        return None
    series = list(data.demand.series.values())
    starts = np.unique(np.concatenate([_dates(s.starts) for s in series]))
    total = np.zeros(len(starts))
    for s in series:
        values = np.full(len(starts), np.nan)
        values[np.searchsorted(starts, _dates(s.starts))] = s.full_window_estimate(metric)
        total = total + values  # a window missing in any series is missing in the sum
    return starts, total


def demand_and_forecast(data: ReportData) -> Figure | None:
    if data.demand is None and data.forecast is None and data.schedule is None:
        return None
    fig, axes = _figure(2)
    for ax, (metric, label) in zip(axes, METRICS):
        history = _demand_total(data, metric)
        if history is not None:
            ax.plot(history[0], history[1] / MILLION, color="#333333", linewidth=1.0, label="demand (history)")
        if data.forecast is not None:
            low, high = quantile_band(data.forecast)
            parts = [s for s in data.forecast.series if s.metric == metric]
            if parts:
                starts = _dates(parts[0].starts)
                p50 = sum(s.quantiles[0.5] for s in parts) / MILLION
                ax.fill_between(starts, sum(s.quantiles[low] for s in parts) / MILLION,
                                sum(s.quantiles[high] for s in parts) / MILLION, color="#1f77b4", alpha=0.25,
                                linewidth=0, label=f"forecast {quantile_column(low)}–{quantile_column(high)}")
                ax.plot(starts, p50, color="#1f77b4", linewidth=1.2, label="forecast p50")
        if data.schedule is not None:
            planned = sum(m[metric] for m in data.schedule.planned.values()) / MILLION
            _step(ax, _dates(data.schedule.starts), planned, data.schedule.window_s, color="#d62728", linestyle="--",
                  linewidth=1.0, label=f"planned {quantile_column(data.schedule.quantile)}")
        ax.set_ylabel(f"{label}\nmillions / window")
        ax.legend(loc="upper left", fontsize=8)
        _time_axis(ax)
    return fig


def replicas_per_pool(data: ReportData) -> Figure | None:
    if data.schedule is None:
        return None
    schedule = data.schedule
    fig, (ax,) = _figure(1)
    names = sorted(schedule.deployments)
    starts = _dates(schedule.starts)
    # One more point so the last window's step is drawn to its end.
    edges = np.append(starts, starts[-1] + np.timedelta64(schedule.window_s, "s"))
    stacks = [np.append(schedule.replicas[n], schedule.replicas[n][-1]) for n in names]
    labels = [f"{n} ({schedule.deployments[n].gpu}×{schedule.deployments[n].tp})" for n in names]
    ax.stackplot(edges, *stacks, labels=labels, step="post", alpha=0.85)
    ax.set_ylabel("replicas (instances)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", fontsize=8)
    _time_axis(ax)
    return fig


def capacity_vs_demand(data: ReportData) -> Figure | None:
    """Tokens per window the planned replicas serve at the planned token mix, against demand."""
    if data.schedule is None:
        return None
    schedule = data.schedule
    n = len(schedule.starts)
    planned = np.zeros(n)
    capacity = np.zeros(n)
    for model, metrics in schedule.planned.items():
        for k in range(n):
            p, d = metrics["prefill_tokens"][k], metrics["decode_tokens"][k]
            use = capacity_use(schedule, model, k, p, d)
            planned[k] += p + d
            # (P + D) / u: the load the replicas carry at full use; u = 0 (no demand) shows no line point.
            capacity[k] += (p + d) / use if 0 < use < np.inf else np.nan
    fig, (ax,) = _figure(1)
    starts = _dates(schedule.starts)
    _step(ax, starts, capacity / MILLION, schedule.window_s, color="#2ca02c", linewidth=1.6, label="planned capacity")
    _step(ax, starts, planned / MILLION, schedule.window_s, color="#d62728", linestyle="--", linewidth=1.0,
          label=f"planned demand ({quantile_column(schedule.quantile)})")
    history = [_demand_total(data, m) for m, _ in METRICS]
    if history[0] is not None:
        hist_starts = history[0][0]
        actual = history[0][1] + history[1][1]
        inside = (hist_starts >= starts[0]) & (hist_starts <= starts[-1])
        if inside.any():
            _step(ax, hist_starts[inside], actual[inside] / MILLION, schedule.window_s, color="#333333",
                  linewidth=1.2, label="actual demand")
    ax.set_ylabel("prefill + decode tokens\nmillions / window")
    ax.legend(loc="best", fontsize=8)
    _time_axis(ax)
    return fig


def cost_per_day(data: ReportData) -> Figure | None:
    if data.schedule is None:
        return None
    schedule = data.schedule
    days = _dates(schedule.starts).astype("datetime64[D]")
    unique_days = np.unique(days)
    hours = schedule.window_s / 3600
    fig, (ax,) = _figure(1)
    bottom = np.zeros(len(unique_days))
    positions = np.arange(len(unique_days))
    for name in sorted(schedule.deployments):
        d = schedule.deployments[name]
        per_window = schedule.replicas[name] * d.usd_per_instance_hour * hours
        per_day = np.array([per_window[days == day].sum() for day in unique_days])
        ax.bar(positions, per_day, bottom=bottom, label=name, width=0.7)
        bottom += per_day
    for x, total in zip(positions, bottom):
        ax.annotate(f"${total:,.0f}", (x, total), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(positions, [str(day) for day in unique_days], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("$ per day (UTC)")
    # Room above the tallest bar for its label and the legend, which would otherwise cover it.
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.3)
    ax.legend(loc="upper left", fontsize=8, ncols=min(3, len(schedule.deployments)))
    ax.grid(True, axis="y", alpha=0.3)
    return fig


CHARTS: tuple[Chart, ...] = (
    Chart("demand-forecast", "Demand history and forecast",
          "Tokens per window: history, the forecast band, and the quantile the plan covers.", demand_and_forecast),
    Chart("replicas", "Replicas per pool", "Planned replicas per deployment (stacked), window by window.",
          replicas_per_pool),
    Chart("capacity-demand", "Capacity vs demand",
          "What the planned replicas serve at the planned token mix, the planned demand, and (given the "
          "history) the demand that came.", capacity_vs_demand),
    Chart("cost-per-day", "Cost per day", "Planned $ per UTC day, per deployment.", cost_per_day),
)


def render(fig: Figure, chart_id: str) -> tuple[str, bytes]:
    """(inline SVG, PNG bytes), both byte-stable for the same data."""
    # Fixed salt and no dates: matplotlib otherwise writes random ids and the time of drawing.
    with matplotlib.rc_context({"svg.hashsalt": f"preserve-{chart_id}", "svg.fonttype": "path"}):
        svg_buffer = io.StringIO()
        fig.savefig(svg_buffer, format="svg", metadata={"Date": None})
    png_buffer = io.BytesIO()
    fig.savefig(png_buffer, format="png", dpi=110, metadata={"Software": None})
    svg = svg_buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and DOCTYPE: the SVG goes inline in HTML
    # The RDF metadata block (creator, format) says nothing a reader needs; it only adds bytes.
    if "<metadata>" in svg:
        svg = svg[:svg.index("<metadata>")] + svg[svg.index("</metadata>") + len("</metadata>"):]
    return svg, png_buffer.getvalue()
