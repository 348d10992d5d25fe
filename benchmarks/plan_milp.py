"""Integer-program planner: solve time, optimality gap and cost against cheapest-first.

Run on demand (not a test):
    python benchmarks/plan_milp.py [--forecast-model prophet] [--repeat 3]

For each example fleet it forecasts the fleet's demand once, then times
`make_plan` (the integer program alone is `solver.seconds`), and prints the
plan's cost next to the cheapest-first plan for the same demand.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from preserve_cli.demand.sources import load_demand  # noqa: E402
from preserve_cli.errors import InputError  # noqa: E402
from preserve_cli.forecast import forecast_demand  # noqa: E402
from preserve_cli.plan.capacity import capacity_provider  # noqa: E402
from preserve_cli.plan.fleet import read_fleet  # noqa: E402
from preserve_cli.plan.planner import make_plan  # noqa: E402

CASES = [
    ("default (3 pools, 1 model)", REPO / "examples" / "servegen-m-large-hourly.csv", REPO / "examples" / "fleet.yaml"),
    ("multi-region (12 pools, 4 models)", REPO / "examples" / "fleets" / "multi-region-demand.csv",
     REPO / "examples" / "fleets" / "multi-region.yaml"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecast-model", default="prophet")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'case':36} {'windows':>7} {'deploys':>7} {'solve s':>8} {'gap %':>6} {'plan $':>10} {'cheapest-first $':>18}")
    for name, demand_path, fleet_path in CASES:
        fleet = read_fleet(fleet_path)
        demand, _ = load_demand([str(demand_path)], fleet.planning.window_s)
        forecast = forecast_demand(demand, fleet.planning.horizon_s,
                                   quantiles=tuple(sorted({0.5, 0.9, fleet.planning.quantile})),
                                   model=args.forecast_model)
        provider = capacity_provider(fleet, None)
        best = None
        for _ in range(args.repeat):
            began = time.perf_counter()
            try:
                plan = make_plan(forecast, fleet, provider)
            except InputError as exc:
                print(f"{name:36} infeasible: {exc.one_line()[:160]}")
                break
            elapsed = time.perf_counter() - began
            if best is None or plan.solver["seconds"] < best[0].solver["seconds"]:
                best = (plan, elapsed)
        if best is None:
            continue
        plan, _ = best
        cost = sum(plan.cost_usd(d.name) for d in plan.deployments)
        print(f"{name:36} {len(plan.starts):>7} {len(plan.deployments):>7} {plan.solver['seconds']:>8.2f} "
              f"{plan.solver['mip_gap'] * 100:>6.2f} {cost:>10,.0f} {str(plan.solver['cheapest_first_cost_usd']):>18}")


if __name__ == "__main__":
    main()
