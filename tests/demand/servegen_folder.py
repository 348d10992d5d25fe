"""Writers for small ServeGen folders, shared by the demand tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
M_LARGE = REPO / ".." / "shared" / "data" / "traces" / "servegen" / "language" / "m-large"

# The synthetic folder (expected values are worked out in test_servegen_synthetic.py):
# 72 ten-minute windows (two 6-hour dataset windows).
#   client 0: 6 requests (rate 0.01/s) in every window except window 5, which no client uses;
#             pdfs: hours 0-6 input mean 200, output 10; hours 6-12 input 400, output 35.
#   client 1: 3 requests in window 0, 6 in window 40; pdf only for hours 0-6 (input 58, output 81).
#   client 2: 6 requests in windows 1 and 37; no dataset file at all.
SYNTHETIC_WINDOWS = 72
SYNTHETIC_RATES = {
    "0": {i: 0.01 for i in range(SYNTHETIC_WINDOWS) if i != 5},
    "1": {0: 0.005, 40: 0.01},
    "2": {1: 0.01, 37: 0.01},
}
SYNTHETIC_DATASETS = {
    "0": {"0": {"input_tokens": "{100: 0.5, 300: 0.5}", "output_tokens": "{10: 1.0}"},
          "21600": {"input_tokens": "{400: 1.0}", "output_tokens": "{20: 0.25, 40: 0.75}"}},
    "1": {"0": {"input_tokens": "{50: 0.5, 66: 0.5}", "output_tokens": "{81: 1}"}},
}


def trace_text(rates: dict[int, float], windows: int = SYNTHETIC_WINDOWS) -> str:
    """ServeGen trace rows; an idle window is `ts,0,0,,0,0` as upstream writes it."""
    lines = []
    for i in range(windows):
        rate = rates.get(i, 0)
        lines.append(f"{i * 600},{rate},1.5,Gamma,0.4,2.5" if rate else f"{i * 600},0,0,,0,0")
    return "\n".join(lines) + "\n"


def write_servegen(folder: Path, rates: dict[str, dict[int, float]], datasets: dict[str, object],
                   windows: int = SYNTHETIC_WINDOWS) -> Path:
    """Write trace CSVs and gzipped datasets (a dict is JSON-encoded; bytes are written as-is)."""
    folder.mkdir(parents=True, exist_ok=True)
    for client, client_rates in rates.items():
        (folder / f"chunk-{client}-trace.csv").write_text(trace_text(client_rates, windows))
    for client, dataset in datasets.items():
        raw = dataset if isinstance(dataset, bytes) else gzip.compress(json.dumps(dataset).encode(), mtime=0)
        (folder / f"chunk-{client}-dataset.json.gz").write_bytes(raw)
    return folder
