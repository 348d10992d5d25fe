"""Fixtures for the simulator tests: small fleets and short slices of the real Azure 2023 traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from preserve_cli.profile.catalog import get_gpu, resolve_model
from preserve_cli.simulate.engine import SimPool
from preserve_cli.simulate.timing import instance_timing
from preserve_cli.simulate.workload import make_workload, slice_workload

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
AZURE_CONV = SHARED / "data" / "traces" / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"
AZURE_CODE = SHARED / "data" / "traces" / "azure_llm_2023" / "AzureLLMInferenceTrace_code.csv"
SERVEGEN = SHARED / "data" / "traces" / "servegen" / "language" / "m-large"


def pool(gpu: str = "a100-80gb", model: str = "llama-2-7b", *, name: str = "p", cold_start_s: float = 60.0,
         usd_per_instance_hour: float = 2.0, max_replicas: int = 64) -> SimPool:
    return SimPool(name=name, gpu=gpu, model=model, tp=1, cold_start_s=cold_start_s,
                   usd_per_instance_hour=usd_per_instance_hour,
                   timing=instance_timing(get_gpu(gpu), resolve_model(model), 1), max_replicas=max_replicas)


def uniform_workload(n: int, prompt: int, output: int, rate_per_s: float | None = None):
    arrival = np.zeros(n) if rate_per_s is None else np.arange(n) / rate_per_s
    return make_workload(arrival + 1.7e9, np.full(n, prompt), np.full(n, output), source="synthetic")


@pytest.fixture(scope="session")
def azure_conv():
    from preserve_cli.simulate.workloads.logs import workload_from_logs

    return workload_from_logs(AZURE_CONV)


@pytest.fixture(scope="session")
def conv_10min(azure_conv):
    return slice_workload(azure_conv, 0.0, 600.0)
