"""Fixtures for the demand tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from servegen_folder import SYNTHETIC_DATASETS, SYNTHETIC_RATES, write_servegen


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    """The hand-computed folder described in servegen_folder.py."""
    return write_servegen(tmp_path / "synth", SYNTHETIC_RATES, SYNTHETIC_DATASETS)
