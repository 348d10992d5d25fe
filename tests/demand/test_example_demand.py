"""The bundled example demand: packaged copy == examples/ == what make_example.py regenerates."""

from __future__ import annotations

import importlib.util

from servegen_folder import REPO

from preserve_cli.data import attribution_path, example_demand_path
from preserve_cli.demand.schema import read_demand

EXAMPLES = REPO / "examples"


def _make_example_module():
    spec = importlib.util.spec_from_file_location("make_example", EXAMPLES / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_copies_equal_examples_byte_for_byte():
    assert example_demand_path().read_bytes() == (EXAMPLES / "servegen-m-large-hourly.csv").read_bytes()
    assert attribution_path().read_bytes() == (EXAMPLES / "ATTRIBUTION.md").read_bytes()


def test_regenerating_from_shared_gives_the_same_bytes():
    text = _make_example_module().render_example()
    assert text.encode("utf-8") == (EXAMPLES / "servegen-m-large-hourly.csv").read_bytes()


def test_example_is_a_readable_hourly_demand_with_its_attribution():
    demand = read_demand(example_demand_path())
    series = demand.series["m-large"]
    assert demand.window_s == 3600 and len(series) == 336 and not series.missing.any()
    attribution = attribution_path().read_text()
    for fact in ("f891d1189eb32b3868dfc443800c4150548c282a", "data/language/m-large", "Apache License 2.0",
                 "arXiv:2505.09999", "15 of the 162 clients", "2025-01-06T00:00:00Z",
                 f"{int(series.requests.sum()):,} requests", f"{int(series.prefill_tokens.sum()):,} prefill tokens",
                 f"{int(series.decode_tokens.sum()):,} decode tokens"):
        assert fact in attribution, fact
