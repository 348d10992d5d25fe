"""`preserve report`: one self-contained HTML page (charts as inline SVG) plus a PNG of each chart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from preserve_cli.audit import AuditResult, audit_plan
from preserve_cli.errors import InputError
from preserve_cli.fileio import atomic_path, write_text_atomic
from preserve_cli.report.charts import CHARTS, render
from preserve_cli.report.html import page
from preserve_cli.report.inputs import ReportData, load_report_data


@dataclass(frozen=True)
class Report:
    html: str
    pngs: dict[str, bytes]          # chart id -> PNG
    charts: list[str]               # chart ids drawn, in page order
    skipped: list[str]              # parts left out, each with why (charts needing a plan, the audit table)


def _audit(data: ReportData, skipped: list[str]) -> AuditResult | None:
    """The plan against the history given, where the history covers the plan's windows."""
    if data.schedule is None or data.demand is None:
        return None
    try:
        return audit_plan(data.schedule, data.demand)
    except InputError as why:
        skipped.append(f"audit table: {why.problem}")
        return None


def build_report(data: ReportData) -> Report:
    drawn: list[tuple[str, str, str, str]] = []
    pngs: dict[str, bytes] = {}
    skipped = []
    for chart in CHARTS:
        fig = chart.draw(data)
        if fig is None:
            skipped.append(f"chart {chart.id}: needs a plan")
            continue
        svg, png = render(fig, chart.id)
        drawn.append((chart.id, chart.title, chart.caption, svg))
        pngs[chart.id] = png
    return Report(html=page(data, drawn, _audit(data, skipped)), pngs=pngs, charts=[c[0] for c in drawn], skipped=skipped)


def write_report(report: Report, html_path: str | Path, png_dir: str | Path | None) -> list[Path]:
    """The HTML and `<png_dir>/<chart>.png`, each written atomically; returns the paths written."""
    html_path = Path(html_path)
    if html_path.is_dir():
        raise InputError("output is a directory", file=str(html_path), field="-o", fix="name the HTML file, e.g. -o report.html")
    written = []
    if png_dir is not None:
        png_dir = Path(png_dir)
        if png_dir.exists() and not png_dir.is_dir():
            raise InputError("not a directory", file=str(png_dir), field="--png-dir", fix="name a directory for the PNGs")
        png_dir.mkdir(parents=True, exist_ok=True)
        for chart_id, png in report.pngs.items():
            target = png_dir / f"{chart_id}.png"
            with atomic_path(target) as temporary:
                temporary.write_bytes(png)
            written.append(target)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(html_path, report.html)
    return [html_path, *written]


__all__ = ["Report", "ReportData", "build_report", "load_report_data", "write_report"]
