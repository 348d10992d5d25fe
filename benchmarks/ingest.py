"""Ingest benchmark: preserve's ingest/demand path against DuckDB's own aggregation.

Writes an Azure-format CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`, 100 ns ticks)
with --rows requests over one week into --dir (default .bench/, git-ignored), then times, each in a
fresh subprocess so that peak memory is per run:

  (a) ingest_logs -> requests.parquet, then demand_from_requests on it, hourly;
  (b) demand_from_requests directly on the CSV, hourly (one pass, no Parquet);
  (c) the anchor: DuckDB's own `SELECT date_trunc('hour', TIMESTAMP), count(*),
      sum(ContextTokens), sum(GeneratedTokens) FROM read_csv(...) GROUP BY 1`;
  (d) the job-equivalent anchor for (a): DuckDB doing the same two-step job on its own,
      `COPY (SELECT * FROM read_csv(...)) TO 'x.parquet' (FORMAT parquet)`, then the same
      GROUP BY over that Parquet.

Prints the best time of --repeat runs (the modes take turns), the ratio to the anchor (c),
the ratio to the job-equivalent anchor (d), and the peak RSS of the run's own process
(VmHWM: interpreter, libraries and data; not ru_maxrss, which Linux carries over from the
forking parent). Times cover the work only, not interpreter start-up and imports (CPU
seconds too). Each run also returns its totals, and the script fails if (a), (b), (c) and
(d) disagree.

    python benchmarks/ingest.py                     # 10M rows, best of 3
    python benchmarks/ingest.py --rows 50000000 --dir /tmp/bench   # 1.8 GB CSV: not under the repo
    python benchmarks/ingest.py --rows 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".bench"
SEED = 20240510
WEEK_S = 7 * 86_400
START = np.datetime64("2024-05-10T00:00:00", "us")  # a Friday 00:00 UTC, like the Azure 2024 week
# Token counts: log-normal fits (mean, sd of ln tokens) of the Azure 2023 conversation trace
# (../shared/data/traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv: ContextTokens median
# 1020, p99 4142; GeneratedTokens median 129, p99 601), clipped to that trace's ranges.
CONTEXT_LOG_MEAN, CONTEXT_LOG_SD, CONTEXT_MAX = 6.633, 0.985, 14_050
GENERATED_LOG_MEAN, GENERATED_LOG_SD, GENERATED_MAX = 5.019, 0.859, 1_000
CHUNK_ROWS = 1_000_000
TARGET_RATIO, TARGET_RSS_MB = 1.3, 1024
MODES = ("anchor", "duckdb-job", "demand-from-csv", "ingest+demand")
# The anchors every run is compared with: (c) the plain query (the headline target) and
# (d) DuckDB converting the CSV to Parquet and aggregating that (the same job as (a)).
ANCHORS = {"": "anchor", "_to_job": "duckdb-job"}


def arrival_times_us(rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrivals over a week: a Poisson process whose rate follows the day
    (peak mid-afternoon UTC at 1.6x the mean, trough at night) and drops 30% on weekends."""
    minutes = np.arange(WEEK_S // 60 + 1)
    day_phase = (minutes % 1440) / 1440
    weekend = ((minutes // 1440) % 7 >= 1) & ((minutes // 1440) % 7 <= 2)  # Sat, Sun after a Friday start
    rate = (1 + 0.6 * np.sin(2 * np.pi * (day_phase - 0.375))) * np.where(weekend, 0.7, 1.0)
    intensity = np.concatenate([[0.0], np.cumsum(rate[:-1])])
    steps = np.cumsum(rng.exponential(size=rows + 1))
    targets = steps[:-1] / steps[-1] * intensity[-1]
    return (np.interp(targets, intensity, minutes * 60.0) * 1e6).astype(np.int64)


def tokens(rng: np.random.Generator, rows: int, mean: float, sd: float, top: int) -> np.ndarray:
    return np.clip(np.rint(rng.lognormal(mean, sd, rows)), 1, top).astype(np.int64)


def write_trace(path: Path, rows: int) -> None:
    rng = np.random.default_rng(SEED)
    times = arrival_times_us(rows, rng)
    tmp = path.with_suffix(".tmp")
    schema = pa.schema([("TIMESTAMP", pa.string()), ("ContextTokens", pa.int64()), ("GeneratedTokens", pa.int64())])
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with tmp.open("wb") as sink, pacsv.CSVWriter(sink, schema, write_options=options) as writer:
        sink.write(b"TIMESTAMP,ContextTokens,GeneratedTokens\n")  # unquoted, as Azure writes it
        for start in range(0, rows, CHUNK_ROWS):
            chunk = times[start:start + CHUNK_ROWS]
            stamps = pa.array(START + chunk.astype("timedelta64[us]"), pa.timestamp("us"))
            # Arrow prints microseconds; Azure writes 100 ns ticks (7 digits).
            text = pc.binary_join_element_wise(pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S"), "0", "")
            n = len(chunk)
            writer.write_table(pa.table([text, tokens(rng, n, CONTEXT_LOG_MEAN, CONTEXT_LOG_SD, CONTEXT_MAX),
                                         tokens(rng, n, GENERATED_LOG_MEAN, GENERATED_LOG_SD, GENERATED_MAX)],
                                        schema=schema))
    tmp.replace(path)


# --- one timed run (in a child process) ---------------------------------------------------------

def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    times = os.times()
    return times.user + times.system


def hourly_totals(con, source: str) -> dict:
    """DuckDB's own hourly GROUP BY over `source` (a table function call), summed up."""
    query = (f"SELECT date_trunc('hour', TIMESTAMP), count(*), sum(ContextTokens), sum(GeneratedTokens) "
             f"FROM {source} GROUP BY 1")
    groups = con.sql(f"SELECT count(*), sum(c), sum(i), sum(g) FROM ({query}) AS t(h, c, i, g)").fetchall()[0]
    return {"windows": groups[0], "requests": int(groups[1]), "prefill": int(groups[2]), "decode": int(groups[3])}


def run_mode(mode: str, csv_path: Path, workdir: Path) -> dict:
    # Imported before the clocks start: CPU seconds, like the wall time, cover the work only. The
    # anchors import DuckDB alone, so that their peak memory is DuckDB's.
    import duckdb

    if mode not in ANCHORS.values():
        from preserve_cli.demand.from_requests import demand_from_requests
        from preserve_cli.ingest import ingest_logs

    cpu_started = cpu_seconds()
    first_step: dict[str, float] = {}
    parquet = workdir / "requests.parquet"
    if mode in ("anchor", "duckdb-job"):
        started = time.perf_counter()
        con = duckdb.connect()  # counted, as the library's runs count opening theirs
        source = f"read_csv('{csv_path}')"
        if mode == "duckdb-job":
            # DuckDB's defaults for both steps, as a user of DuckDB alone would write them.
            con.execute(f"COPY (SELECT * FROM {source}) TO '{parquet}' (FORMAT parquet)")
            first_step = {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu_started}
            source = f"read_parquet('{parquet}')"
        totals = hourly_totals(con, source)
        elapsed = time.perf_counter() - started
    else:
        started = time.perf_counter()
        source = csv_path
        if mode == "ingest+demand":
            source = parquet
            ingest_logs(csv_path, source)
            first_step = {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu_started}
        demand = demand_from_requests(source, 3600)
        elapsed = time.perf_counter() - started
        series = demand.series["all"]
        totals = {"windows": int((~series.missing).sum()), "requests": int(np.nansum(series.requests)),
                  "prefill": int(np.nansum(series.prefill_tokens)), "decode": int(np.nansum(series.decode_tokens))}
    result = {"mode": mode, "seconds": elapsed, "cpu_seconds": cpu_seconds() - cpu_started,
              "peak_rss_mb": peak_rss_kib() / 1024, "totals": totals}
    if first_step:
        # The step that writes the Parquet, and the file it wrote (the rest is the aggregation).
        result |= {"write_seconds": first_step["seconds"], "write_cpu_seconds": first_step["cpu_seconds"],
                   "parquet_bytes": parquet.stat().st_size}
    return result


def peak_rss_kib() -> int:
    """Peak resident memory of this process image.

    VmHWM counts this program only; ru_maxrss would also carry the parent's memory at fork
    time (Linux keeps it across exec), i.e. the generator's arrays.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def run_child(mode: str, csv_path: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=csv_path.parent) as workdir:
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--csv", str(csv_path), "--workdir", workdir],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def timed(csv_path: Path, repeat: int) -> dict[str, dict]:
    """Best time of `repeat` runs per mode; the modes take turns, so a burst of load on the
    machine hits them alike. Peak memory is the largest of the runs."""
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for _ in range(repeat):
        for mode in MODES:
            runs[mode].append(run_child(mode, csv_path))
    results = {}
    for mode, mode_runs in runs.items():
        best = min(mode_runs, key=lambda run: run["seconds"])
        cpu = sorted(run["cpu_seconds"] for run in mode_runs)
        results[mode] = {**best, "all_seconds": [round(run["seconds"], 3) for run in mode_runs],
                         "peak_rss_mb": max(run["peak_rss_mb"] for run in mode_runs),
                         "median_cpu_seconds": cpu[len(cpu) // 2]}
        for suffix, anchor in ANCHORS.items():
            # Ratio within each round (same load on the machine), then the median over rounds.
            paired = sorted(run["seconds"] / other["seconds"] for run, other in zip(mode_runs, runs[anchor]))
            results[mode][f"median_paired_ratio{suffix}"] = paired[len(paired) // 2]
        if "write_seconds" in best:
            writes = sorted(run["write_cpu_seconds"] for run in mode_runs)
            results[mode]["median_write_cpu_seconds"] = writes[len(writes) // 2]
    for result in results.values():
        for suffix, anchor in ANCHORS.items():
            result[f"ratio{suffix}"] = result["seconds"] / results[anchor]["seconds"]
            result[f"cpu_ratio{suffix}"] = result["median_cpu_seconds"] / results[anchor]["median_cpu_seconds"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the best time is reported")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--dir", type=Path, default=BENCH_DIR,
                        help="folder for the generated CSV and the runs' Parquet (e.g. /tmp for 50M rows)")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, args.csv, args.workdir)))
        return
    args.dir.mkdir(exist_ok=True)
    csv_path = args.dir / f"azure-{args.rows}-seed{SEED}.csv"
    if args.generate:
        write_trace(csv_path, args.rows)
        return
    if not csv_path.exists():
        started = time.perf_counter()
        # In a child process, so that this one stays small (its memory is not measured, but
        # children forked from a big parent start big).
        subprocess.run([sys.executable, __file__, "--generate", "--rows", str(args.rows), "--dir", str(args.dir)],
                       check=True)
        print(f"wrote {csv_path} ({csv_path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
    results = timed(csv_path, args.repeat)
    totals = {json.dumps(result["totals"], sort_keys=True) for result in results.values()}
    if len(totals) != 1:
        raise SystemExit(f"runs disagree on the totals: {totals}")
    if args.json:
        print(json.dumps({"rows": args.rows, "csv_bytes": csv_path.stat().st_size, "machine": platform.machine(),
                          "results": results}, indent=2))
        return
    print(f"{args.rows:,} rows, {csv_path.stat().st_size / 1e6:,.0f} MB CSV, best of {args.repeat}, "
          f"totals {results['anchor']['totals']}")
    print(f"{'run':<18}{'best s':>8}{'ratio':>7}{'paired':>8}{'CPU s':>7}{'CPU ratio':>10}"
          f"{'| to job':>9}{'paired':>8}{'CPU':>6}{'peak RSS MB':>13}   all runs (s)")
    for mode, result in results.items():
        target = "" if mode in ANCHORS.values() else ("  ok" if result["ratio"] <= TARGET_RATIO else "  over 1.3x")
        target += "" if result["peak_rss_mb"] <= TARGET_RSS_MB else "  over 1 GB"
        print(f"{mode:<18}{result['seconds']:>8.3f}{result['ratio']:>7.2f}{result['median_paired_ratio']:>8.2f}"
              f"{result['median_cpu_seconds']:>7.2f}{result['cpu_ratio']:>10.2f}{result['ratio_to_job']:>9.2f}"
              f"{result['median_paired_ratio_to_job']:>8.2f}{result['cpu_ratio_to_job']:>6.2f}"
              f"{result['peak_rss_mb']:>13.0f}   {result['all_seconds']}{target}")
    for mode, result in results.items():
        if "write_seconds" in result:
            print(f"{mode}: Parquet step {result['write_seconds']:.3f} s of the best run, median "
                  f"{result['median_write_cpu_seconds']:.2f} CPU s; Parquet {result['parquet_bytes'] / 1e6:,.1f} MB")
    print("ratio: best time / best anchor time; paired: median over rounds of time / that round's anchor time;\n"
          "CPU s: median user+system seconds of the run's process (less sensitive to other load than wall time);\n"
          "to job: the same against duckdb-job (DuckDB's own CSV -> Parquet -> GROUP BY); "
          "the 1.3x target (ok / over) is against the plain anchor")


if __name__ == "__main__":
    main()
