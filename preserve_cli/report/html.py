"""One self-contained HTML page: inline CSS, inline SVG charts, no script, nothing fetched."""

from __future__ import annotations

import html
from typing import Any

from preserve_cli import __version__
from preserve_cli.audit import AuditResult
from preserve_cli.display import human_value
from preserve_cli.report.inputs import BacktestScore, ReportData

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
figure.chart { margin: 1rem 0; } figure.chart svg { width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; }
.meta { color: #555; font-size: 0.85rem; }
"""


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return html.escape(human_value(value))


def table(headers: list[str], rows: list[list[Any]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def plan_table(data: ReportData) -> str:
    schedule = data.schedule
    assert schedule is not None
    hours = schedule.window_s / 3600
    rows = []
    for name in sorted(schedule.deployments):
        d = schedule.deployments[name]
        r = schedule.replicas[name]
        rows.append([name, d.model, f"{d.gpu}×{d.tp}", d.region, f"{int(r.min())}–{int(r.max())}",
                     float(r.sum() * d.tp * hours), float(r.sum() * d.usd_per_instance_hour * hours)])
    rows.append(["total", "", "", "", "", sum(row[5] for row in rows), sum(row[6] for row in rows)])
    return table(["deployment", "model", "gpu×tp", "region", "replicas", "GPU-hours", "$"], rows, "plan-table")


def backtest_table(scores: list[BacktestScore]) -> str:
    columns = sorted({c for s in scores for c in s.coverage}, key=lambda c: float(c[1:]))
    rows = [[s.model, s.metric, s.windows, None if s.wape is None else f"{s.wape * 100:.1f}%",
             *[f"{s.coverage[c] * 100:.0f}%" if c in s.coverage else None for c in columns]] for s in scores]
    return table(["model", "metric", "windows", "WAPE (p50)", *[f"actual ≤ {c}" for c in columns]], rows,
                 "backtest-table")


WIDE_TABLE_COLUMNS = 8  # more fields than this per record: the table is shown transposed


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys of scalars (lists are summarised by their length)."""
    flat: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}{key}."))
    elif isinstance(value, list):
        flat[prefix.rstrip(".")] = f"{len(value)} items"
    else:
        flat[prefix.rstrip(".")] = value
    return flat


def simulation_tables(document: dict | list) -> str:
    """Any simulation JSON: lists of records become tables, the remaining scalars one key/value table."""
    parts = []
    records = {"results": document} if isinstance(document, list) else {
        k: v for k, v in document.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for index, (key, items) in enumerate(records.items()):
        flat = [_flatten(item) for item in items]
        headers = list(dict.fromkeys(h for row in flat for h in row))
        if len(headers) > WIDE_TABLE_COLUMNS:
            # Many metrics per run (`simulate compare`): one column per run, one row per metric, readable.
            # A run is named by its first two text fields (scaler / router in `simulate compare`).
            names = [" / ".join([v for v in row.values() if isinstance(v, str)][:2]) or str(i + 1)
                     for i, row in enumerate(flat)]
            body = table(["metric", *names], [[h, *[row.get(h) for row in flat]] for h in headers],
                         f"simulation-table-{index}")
        else:
            body = table(headers, [[row.get(h) for h in headers] for row in flat], f"simulation-table-{index}")
        parts.append(f"<h3>{html.escape(key)}</h3>" + body)
    if isinstance(document, dict):
        rest = _flatten({k: v for k, v in document.items() if k not in records})
        if rest:
            parts.append(table(["what", "value"], [[k, v] for k, v in rest.items()], "simulation-summary"))
    return "".join(parts)


def audit_table(result: AuditResult) -> str:
    s = result.summary()
    worst = s["worst_window"] or {}
    forecast = s["forecast"]
    rows = [["windows audited (not in the history)", f"{s['windows_audited']} ({s['windows_unobserved']})"],
            ["under-provisioned windows", s["under_provisioned_windows"]],
            ["worst window: demand over capacity", f"{worst.get('start', '–')}: "
             + (f"{worst['over_capacity'] * 100:+.1f}%" if worst.get("over_capacity") is not None else "∞")],
            ["idle GPU-hours (share)", f"{s['idle_gpu_hours']:,.1f} ({(s['idle_share'] or 0) * 100:.1f}%)"],
            ["idle $", s["idle_usd"]]]
    for metric in ("prefill_tokens", "decode_tokens"):
        e = forecast[metric]
        if e["wape"] is not None:
            rows.append([f"planned quantile vs actual, {metric}",
                         f"WAPE {e['wape'] * 100:.1f}%, actual ≤ plan in {e['covered_share'] * 100:.0f}% of windows"])
    return table(["what", "value"], rows, "audit-table")


def page(data: ReportData, charts: list[tuple[str, str, str, str]], audit: AuditResult | None = None) -> str:
    """charts: (id, title, caption, inline svg) in order; audit: the plan against the history, if it covers it."""
    sources = "".join(f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>" for k, v in data.sources.items())
    body = [(f"<h1>preserve report</h1><p class=\"meta\">generated by preserve {html.escape(__version__)} from:</p>"
             f"<ul class=\"meta\">{sources}</ul>")]
    for chart_id, title, caption, svg in charts:
        body.append(f'<h2>{html.escape(title)}</h2><figure class="chart" id="chart-{chart_id}">{svg}'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if data.schedule is not None:
        body.append("<h2>Plan</h2>" + plan_table(data))
        if data.schedule.notes:
            body.append("<ul class=\"meta\">" + "".join(f"<li>{html.escape(n)}</li>" for n in data.schedule.notes)
                        + "</ul>")
    if audit is not None:
        body.append("<h2>How the plan fared (preserve audit)</h2>" + audit_table(audit))
    if data.backtest:
        body.append("<h2>Forecast backtest</h2>" + backtest_table(data.backtest))
    if data.simulate is not None:
        body.append("<h2>Simulation</h2>" + simulation_tables(data.simulate))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>preserve report</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
