"""Per-request output-length prediction (PreServe's tier 2): from log features or prompt text."""
