"""`preserve simulate`: replay request traces on a simulated fleet under scalers and routers.

Library API (docs/simulate.md):
* `simulate_fleet(workload, fleet, SimulationOptions(...)) -> SimRun` (metrics, timeline, raw result);
* `compare(workload, fleet, [(scaler, router), ...], options) -> list[SimRun]`;
* `load_workload(paths, ...)`: request logs, requests.parquet or a ServeGen folder -> `Workload`;
* `simulate(workload, pools, router, scaler, predicted_output)`: the event loop itself.
Routers and scalers are registered by name in `routers/` and `scalers/`.
"""

from preserve_cli.simulate.api import SimRun, SimulationOptions, compare, simulate_fleet
from preserve_cli.simulate.engine import SimPool, SimResult, simulate
from preserve_cli.simulate.workload import Workload
from preserve_cli.simulate.workloads import load_workload

__all__ = ["SimPool", "SimResult", "SimRun", "SimulationOptions", "Workload", "compare", "load_workload",
           "simulate", "simulate_fleet"]
