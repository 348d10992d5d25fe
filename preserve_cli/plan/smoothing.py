"""Replica series -> what is safe to apply: bounded steps and cold-start lead.

Both transforms only ever RAISE replicas, so a smoothed schedule never falls
below what the demand needs.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from preserve_cli.plan.model import Segment
from preserve_cli.timeutil import to_datetime


def allowed_step(current: int, max_step_change: float) -> int:
    """Largest change from `current` replicas in one window (at least one replica)."""
    return max(1, math.floor(max_step_change * current))


def limit_step_change(required: np.ndarray, max_step_change: float, maximum: int) -> np.ndarray:
    """Ramp up ahead of big increases, and come down at most one step a window.

    `max_step_change` is a fraction of the current replicas (0.5: at most ±50%
    a window, at least one replica); 0 turns smoothing off.
    """
    replicas = np.asarray(required, dtype=np.int64).copy()
    if max_step_change <= 0 or len(replicas) < 2:
        return replicas
    # Backward pass: a window before a jump starts climbing early enough.
    for k in range(len(replicas) - 2, -1, -1):
        while replicas[k] < maximum and replicas[k] + allowed_step(int(replicas[k]), max_step_change) < replicas[k + 1]:
            replicas[k] += 1
    # Forward pass: after a peak, step down gradually.
    for k in range(1, len(replicas)):
        floor = int(replicas[k - 1]) - allowed_step(int(replicas[k - 1]), max_step_change)
        if replicas[k] < floor:
            replicas[k] = floor
    return replicas


def cold_start_lead_s(cold_start_s: int) -> int:
    """Lead time rounded up to whole minutes: cron-based scalers fire on minutes."""
    return math.ceil(cold_start_s / 60) * 60


def schedule_segments(starts: np.ndarray, window_s: int, replicas: np.ndarray, cold_start_s: int) -> list[Segment]:
    """Piecewise-constant replicas over time, each scale-up started `cold_start_s` early.

    A window's replicas are in force over [start - lead, end), where lead is the
    cold start when the window needs more than the window before (the first
    window always counts as a scale-up: its replicas must be ready at its start).
    Where such intervals overlap, the larger count holds. Equal neighbours merge.
    """
    lead = cold_start_lead_s(cold_start_s)
    begin = [int(np.datetime64(s, "s").astype("int64")) for s in starts]
    intervals = []
    for k, count in enumerate(replicas):
        up = k == 0 or count > replicas[k - 1]
        intervals.append((begin[k] - (lead if up else 0), begin[k] + window_s, int(count)))
    cuts = sorted({t for a, b, _ in intervals for t in (a, b)})
    pieces: list[list[int]] = []
    for a, b in zip(cuts, cuts[1:]):
        value = max((c for s, e, c in intervals if s <= a and b <= e), default=None)
        if value is None:
            continue
        if pieces and pieces[-1][1] == a and pieces[-1][2] == value:
            pieces[-1][1] = b
        else:
            pieces.append([a, b, value])
    epoch = to_datetime(np.datetime64(0, "s"))
    return [Segment(epoch + timedelta(seconds=a), epoch + timedelta(seconds=b), v) for a, b, v in pieces]
