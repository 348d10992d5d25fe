"""Tensor-parallel all-reduce time, from vidur's measured NCCL collectives.

`fit_allreduce(network_dir)` (run by `preserve profile train`) condenses
network/<node>/all_reduce.csv into a small table per (node type, GPUs): the median time of
the measurements in each power-of-two message-size bin. At run time `AllReduceModel`
interpolates it log-log; above the largest measured size time grows linearly with bytes (the
bandwidth-bound regime), below the smallest it stays at the smallest size's latency.
Sizes in vidur's CSVs are bytes (vidur/profiling/collectives/collectives_wrapper.py:
`"size": self._size * 2  # bytes` of a float16 buffer).

Which table serves which catalog GPU (NVLink generation and fabric must match):
* a100-80gb, a100-40gb -> a100_dgx (HGX A100, NVSwitch); h100-80gb, h200 -> h100_dgx (NVLink 4).
* Everything else (a40, l40s, l4, user GPUs): the ring formula
  latency + 2 (n-1)/n * S / (one-direction link bandwidth * efficiency) over the catalog's NVLink
  (within the NVLink domain) or PCIe, with the latency the median fitted one, the PCIe efficiency
  measured on the PCIe-crossing profiles (4 workers on a100/h100_pairwise_nvlink, where the NVLink
  pairs talk to each other over PCIe) and the NVLink efficiency on the *_dgx ones.
  vidur has no A40 all-reduce; its a40_pairwise_nvlink/send_recv.csv moves 64 MiB in 16.9 ms
  (4 GB/s, below PCIe Gen4, while the A100 pair moves it at 285 GB/s), the signature of NCCL
  staging through host memory, so it is not used as an NVLink-bridge measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preserve_cli.profile.specs import GpuSpec

TABLE_FOR_GPU = {"a100-80gb": "a100_dgx", "a100-40gb": "a100_dgx", "h100-80gb": "h100_dgx", "h200": "h100_dgx"}
_FABRIC_TABLES = ("a100_dgx", "h100_dgx")
_PCIE_CROSSING = ("a100_pairwise_nvlink", "h100_pairwise_nvlink")
_MEDIAN = "time_stats.all_reduce.median"


def _binned(sizes: np.ndarray, times: np.ndarray) -> dict[str, list[float]]:
    bins = np.round(np.log2(sizes)).astype(int)
    table_sizes, table_ms = [], []
    for b in np.unique(bins):
        in_bin = bins == b
        table_sizes.append(float(np.median(sizes[in_bin])))
        table_ms.append(float(f"{np.median(times[in_bin]):.6g}"))
    return {"bytes": table_sizes, "ms": table_ms}


def _alpha_beta(sizes: np.ndarray, times: np.ndarray) -> tuple[float, float]:
    """Least-squares latency (ms) and bandwidth (bytes/ms) of t = a + S / b on messages >= 1 MiB."""
    large = sizes >= 2**20
    slope, intercept = np.polyfit(sizes[large], times[large], 1)
    return float(max(intercept, 0.0)), float(1.0 / slope)


def _single_node(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["devices_per_node"] == frame["num_workers"]]


def fit_allreduce(network_dir: Path, catalog: dict[str, GpuSpec]) -> dict[str, Any]:
    """Tables and fallback constants (JSON-ready) from vidur network/<node>/*.csv."""
    tables: dict[str, dict[str, dict[str, list[float]]]] = {}
    latencies, pcie_eff, nvlink_eff = [], [], []
    for node in sorted(p.name for p in network_dir.iterdir() if (p / "all_reduce.csv").is_file()):
        frame = _single_node(pd.read_csv(network_dir / node / "all_reduce.csv"))
        for workers, group in frame.groupby("num_workers"):
            sizes = group["size"].to_numpy(float)
            times = group[_MEDIAN].to_numpy(float)
            if node in _FABRIC_TABLES:
                tables.setdefault(node, {})[str(int(workers))] = _binned(sizes, times)
            latency, bandwidth = _alpha_beta(sizes, times)
            bus_gb_s = 2 * (workers - 1) / workers * bandwidth * 1e3 / 1e9
            gpu = catalog["a100-80gb" if node.startswith("a100") else "h100-80gb"]
            latencies.append(latency)
            if node in _PCIE_CROSSING and workers > 2:
                pcie_eff.append(bus_gb_s / (gpu.pcie_gb_s / 2))
            elif node in _FABRIC_TABLES:
                nvlink_eff.append(bus_gb_s / (gpu.nvlink_gb_s / 2))
    return {
        "tables": tables,
        "fallback": {"latency_ms": float(f"{np.median(latencies):.4g}"),
                     "pcie_efficiency": float(f"{np.median(pcie_eff):.3g}"),
                     "nvlink_efficiency": float(f"{np.median(nvlink_eff):.3g}")},
    }


@dataclass(frozen=True)
class AllReduceModel:
    """Time of one all-reduce of `message_bytes` across a TP group, from the fitted tables."""

    tables: dict[str, dict[str, dict[str, list[float]]]]
    fallback: dict[str, float]

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AllReduceModel:
        return cls(tables=document["tables"], fallback=document["fallback"])

    def source(self, gpu: GpuSpec, tp: int) -> str:
        if tp <= 1:
            return "none (tp 1)"
        table = TABLE_FOR_GPU.get(gpu.key)
        if table in self.tables and str(tp) in self.tables[table]:
            return f"measured: vidur network/{table}, {tp} GPUs"
        link = gpu.interconnect(tp)
        return f"ring formula over {link} at the measured {link} efficiency"

    def ms(self, gpu: GpuSpec, tp: int, message_bytes: np.ndarray) -> np.ndarray:
        message_bytes = np.asarray(message_bytes, dtype=np.float64)
        if tp <= 1:
            return np.zeros_like(message_bytes)
        table = self.tables.get(TABLE_FOR_GPU.get(gpu.key, ""), {}).get(str(tp))
        if table is None:
            link = gpu.interconnect(tp)
            efficiency = self.fallback["nvlink_efficiency" if link == "nvlink" else "pcie_efficiency"]
            bytes_per_ms = gpu.link_bytes_per_s(tp) * efficiency / 1e3
            return self.fallback["latency_ms"] + 2 * (tp - 1) / tp * message_bytes / bytes_per_ms
        sizes, times = np.asarray(table["bytes"]), np.asarray(table["ms"])
        inside = np.exp(np.interp(np.log(np.clip(message_bytes, sizes[0], sizes[-1])), np.log(sizes), np.log(times)))
        beyond = times[-1] * message_bytes / sizes[-1]
        return np.where(message_bytes > sizes[-1], beyond, inside)
