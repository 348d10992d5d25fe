"""preserve: capacity planning for LLM serving fleets.

Library first: every CLI command is a thin wrapper over a function in one of the
stage packages (ingest, demand, forecast, profile, plan, emit).
"""

__version__ = "0.1.0"
