"""Regenerate examples/fleets/multi-region-demand.csv from the ServeGen m-large trace (maintainers only).

Reads ../shared/data/traces/servegen/language/m-large (not shipped; the product never reads ../shared).
Four "models" are four disjoint groups of the trace's 162 API clients (client id mod 4). Each model's
traffic is assumed to come from three regions with local-time peaks: the group's hourly demand is
time-shifted by each region's UTC offset below and the three copies are averaged, so a model's volume
equals its client group's volume. Real arrival patterns, a synthetic regional mix; said so in the file.

    python examples/make_multi_region.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from preserve_cli.demand.schema import Demand, DemandSeries, demand_to_csv  # noqa: E402
from preserve_cli.demand.servegen import demand_from_servegen  # noqa: E402

SOURCE = REPO.parent / "shared" / "data" / "traces" / "servegen" / "language" / "m-large"
OUTPUT = REPO / "examples" / "fleets" / "multi-region-demand.csv"
MODELS = ("llama-3-1-8b", "mistral-7b", "qwen2-5-7b", "llama-3-1-70b")
# Hours to shift each regional copy: US East (UTC-5), West Europe (UTC+1), Southeast Asia (UTC+8),
# relative to ServeGen's own clock (China, UTC+8).
REGION_SHIFT_HOURS = {"eastus": 13, "westeurope": 7, "southeastasia": 0}


def group_demand(group: int) -> DemandSeries:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"group-{group}"
        folder.mkdir()
        for path in SOURCE.iterdir():
            match = re.match(r"chunk-(\d+)-", path.name)
            if match and int(match.group(1)) % 4 == group:
                (folder / path.name).symlink_to(path)
        demand = demand_from_servegen(folder, 3600)
    return next(iter(demand.series.values()))


def regional_mix(series: DemandSeries, name: str) -> DemandSeries:
    def mix(values: np.ndarray) -> np.ndarray:
        return np.rint(sum(np.roll(values, shift) for shift in REGION_SHIFT_HOURS.values()) / len(REGION_SHIFT_HOURS))

    return DemandSeries(key=name, window_s=series.window_s, starts=series.starts, coverage=series.coverage,
                        requests=mix(series.requests), prefill_tokens=mix(series.prefill_tokens),
                        decode_tokens=mix(series.decode_tokens))


def main() -> None:
    series = {name: regional_mix(group_demand(group), name) for group, name in enumerate(MODELS)}
    # How it was made is told in examples/fleets/README.md (demand.csv has no comment lines).
    OUTPUT.write_text(demand_to_csv(Demand(window_s=3600, series=series)))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
