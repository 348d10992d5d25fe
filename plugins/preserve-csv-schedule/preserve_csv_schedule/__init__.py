"""An emitter plugin for preserve: schedule segments as CSV rows."""

from __future__ import annotations

import csv
import io


class CsvScheduleEmitter:
    name = "csv"
    description = "schedule.csv: one row per deployment and schedule segment (plugin example)"

    def render(self, plan) -> dict[str, str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["deployment", "pool", "model", "gpu", "region", "start", "end", "replicas"])
        for deployment in plan.deployments:
            for segment in plan.segments[deployment.name]:
                writer.writerow([
                    deployment.name, deployment.pool.name, deployment.model, deployment.pool.gpu,
                    deployment.pool.region, segment.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    segment.end.strftime("%Y-%m-%dT%H:%M:%SZ"), segment.replicas,
                ])
        return {"schedule.csv": buffer.getvalue()}
