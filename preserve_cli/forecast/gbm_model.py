"""Gradient-boosted trees on lags and calendar features, with quantile loss (the median).

The trees learn a correction to the recent-level forecast (`recent.py`), in log1p
space: target = log1p(y[t]) - anchor(origin, lead). Starting from the anchor makes
the short leads persistence-like (the last window) and the long ones the day's level,
and leaves the trees only what the calendar and the lags add. On a series with no
such structure the corrections stay small and the model is the anchor.

Training examples are (origin, lead) pairs cut from the history itself: every origin
with a day of history before it, at leads spread geometrically from 1 window to a
day (short leads get as many examples as long ones). Features, all known at the
origin, log1p values relative to the anchor unless said otherwise:

    lead (windows, capped at a day), slot of the day of the target window,
    last observed window, mean of the last 3 windows, the trailing level,
    the target's slot in the latest observed day, the mean of that slot over the
    last 3 days, and the change of the level over the last day;
    with two weeks of history: the slot of the week, and the target's slot a week
    earlier.

Missing windows stay NaN: the trees route NaN features natively and NaN targets are
dropped, so a gap is never read as zero.

Hyperparameters are generic shrinkage choices, not tuned on one series: learning
rate 0.05 and up to 40 trees (a small step, "nu < 0.1", Hastie, Tibshirani & Friedman,
"The Elements of Statistical Learning", 2nd ed., 10.12.1), 8 leaves per tree, and at
least 5% of the examples in a leaf so a burst of a few windows cannot own a leaf.
How many trees: early stopping on time (ESL 10.12): fit on the first 80% of the
examples by target time, keep the number of rounds with the lowest absolute error on
the last 20%, refit on all of them with that many. Zero rounds (no correction beats
the anchor, e.g. on a random walk) leaves the recent-level forecast.
They were compared on the 4 client groups of ServeGen m-large (clients by id mod 4),
not on the aggregate the benchmarks report. One thread: on a 2-core machine OpenMP
threads made a fit 20x slower, not faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import DAY_S, WEEK_S, History
from preserve_cli.forecast.recent import RecentState, ar1_rate

MIN_OBSERVED_S = 3 * DAY_S     # a day of lags before the first example, then two days of examples
MAX_EXAMPLES = 4000            # more adds fit time, not accuracy, at these history lengths
LEAD_STEPS = 12                # distinct leads per origin, geometric from 1 window to a day
PROFILE_DAYS = 3
SEED = 20240510
GBM_PARAMS = {
    "loss": "quantile", "quantile": 0.5, "learning_rate": 0.05, "max_iter": 40, "max_leaf_nodes": 8,
    "max_bins": 64, "early_stopping": False, "random_state": SEED,
}
MIN_LEAF_SHARE = 0.05
MIN_LEAF = 20
HOLDOUT_SHARE = 0.2    # the latest examples, to choose the number of rounds (0: the anchor alone)


def windows_in(period_s: int, window_s: int) -> int:
    return max(1, period_s // window_s)


@dataclass(frozen=True)
class Layout:
    """What the features are for one series: fixed at fit, reused for prediction."""

    window_s: int
    rho: float
    max_lead: int
    weekly: bool

    @property
    def day(self) -> int:
        return windows_in(DAY_S, self.window_s)

    @property
    def week(self) -> int:
        return windows_in(WEEK_S, self.window_s)


def _row_mean(columns: list[np.ndarray]) -> np.ndarray:
    """Mean of the known values per row (NaN where none), without numpy's empty-slice warning."""
    stacked = np.column_stack(columns)
    known = ~np.isnan(stacked)
    count = known.sum(axis=1)
    total = np.where(known, stacked, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _lookup(log_values: np.ndarray, index: np.ndarray) -> np.ndarray:
    inside = (index >= 0) & (index < log_values.size)
    return np.where(inside, log_values[np.clip(index, 0, max(log_values.size - 1, 0))], np.nan)


def features(log_values: np.ndarray, epoch_slot: np.ndarray, origins: np.ndarray, leads: np.ndarray,
             layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(features, anchor) for target windows t = origin + lead - 1.

    `origins` index into the series (values[:origin] is what was known);
    `epoch_slot[t]` is the target's window count since the Unix epoch (for calendar slots).
    """
    state = RecentState.of(log_values, layout.window_s)
    last, level = state.last[origins], state.level[origins]
    anchor = level + layout.rho ** leads.astype(float) * (last - level)
    target = origins + leads - 1
    day = layout.day
    same_day = target - day * np.ceil(leads / day).astype(np.int64)      # latest observed day, same slot
    profile = _row_mean([_lookup(log_values, same_day - k * day) for k in range(PROFILE_DAYS)])
    mean3 = _row_mean([_lookup(log_values, origins - k) for k in (1, 2, 3)])
    previous_level = state.level[np.maximum(origins - day, 0)]
    columns = [
        np.minimum(leads, layout.max_lead).astype(float),
        (epoch_slot % day).astype(float),
        last - anchor,
        mean3 - anchor,
        level - anchor,
        _lookup(log_values, same_day) - anchor,
        profile - anchor,
        np.where(origins - day >= 0, level - previous_level, np.nan),
    ]
    if layout.weekly:
        week = layout.week
        same_week = target - week * np.ceil(leads / week).astype(np.int64)
        columns += [(epoch_slot % week).astype(float), _lookup(log_values, same_week) - anchor]
    return np.column_stack(columns), anchor


def _epoch_slots(starts: np.ndarray, window_s: int) -> np.ndarray:
    return starts.astype("datetime64[s]").astype(np.int64) // window_s


def training_pairs(n: int, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(origin, lead) examples whose target lies inside the history, at most MAX_EXAMPLES,
    evenly thinned over time (deterministic)."""
    leads = np.unique(np.round(np.geomspace(1, layout.max_lead, num=min(LEAD_STEPS, layout.max_lead)))).astype(np.int64)
    origins = np.arange(layout.day, n)
    o, lead = np.meshgrid(origins, leads, indexing="ij")
    o, lead = o.ravel(), lead.ravel()
    inside = o + lead - 1 < n
    o, lead = o[inside], lead[inside]
    if o.size > MAX_EXAMPLES:
        keep = np.linspace(0, o.size - 1, MAX_EXAMPLES).round().astype(np.int64)
        o, lead = o[keep], lead[keep]
    return o, lead


def _one_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _boosted(rounds: int, examples: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    min_leaf = max(MIN_LEAF, math.ceil(MIN_LEAF_SHARE * examples))
    return HistGradientBoostingRegressor(min_samples_leaf=min_leaf, **{**GBM_PARAMS, "max_iter": rounds})


def _holdout_rounds(x: np.ndarray, y: np.ndarray, when: np.ndarray) -> int:
    """How many boosting rounds to keep: fit on the examples whose targets come first,
    score each round on the last HOLDOUT_SHARE (mean absolute error, what the median
    loss minimises); 0 when no round beats the anchor alone."""
    order = np.argsort(when, kind="stable")
    split = int(order.size * (1 - HOLDOUT_SHARE))
    if split < MIN_LEAF or order.size - split < MIN_LEAF:
        return 0
    train, held = order[:split], order[split:]
    trees = _boosted(GBM_PARAMS["max_iter"], split)
    with _one_thread():
        trees.fit(x[train], y[train])
        errors = [float(np.mean(np.abs(y[held])))]          # round 0: no correction, the anchor
        errors += [float(np.mean(np.abs(y[held] - p))) for p in trees.staged_predict(x[held])]
    return int(np.argmin(errors))                          # ties: the fewest rounds


class GradientBoosting(ForecastModel):
    name = "gbm"
    summary = "gradient-boosted trees (median loss) on lags and calendar features, from the recent level"

    def __init__(self) -> None:
        self._history: History | None = None
        self._layout: Layout | None = None
        self._trees = None
        self._rounds = 0

    @classmethod
    def unfit_reason(cls, history: History) -> str | None:
        if history.observed_s < MIN_OBSERVED_S:
            return f"needs 3d of observed history, has {history.observed_s // 3600}h"
        return None

    def fit(self, history: History) -> None:
        self._history = history
        log_values = np.log1p(history.values)
        day = windows_in(DAY_S, history.window_s)
        self._layout = Layout(window_s=history.window_s, rho=ar1_rate(log_values, history.window_s),
                              max_lead=day, weekly=history.span_s >= 2 * WEEK_S)
        origins, leads = training_pairs(len(history), self._layout)
        slots = _epoch_slots(history.starts, history.window_s)[origins + leads - 1]
        x, anchor = features(log_values, slots, origins, leads, self._layout)
        y = log_values[origins + leads - 1] - anchor
        known = ~np.isnan(y)
        x, y, when = x[known], y[known], (origins + leads)[known]
        self._trees = None
        self._rounds = _holdout_rounds(x, y, when)
        if self._rounds:
            self._trees = _boosted(self._rounds, y.size)
            with _one_thread():
                self._trees.fit(x, y)

    @property
    def detail(self) -> str:
        return f"{self._rounds} boosting rounds" if self._rounds else "no correction helped on the holdout: the anchor"

    def point(self, starts: np.ndarray) -> np.ndarray:
        if self._history is None:
            raise RuntimeError("gbm: fit() before point()")
        return self.point_after(self._history, starts)

    def point_after(self, history: History, starts: np.ndarray) -> np.ndarray:
        if self._layout is None:
            raise RuntimeError("gbm: fit() before point()")
        # Leads count from the end of the history; a trailing gap is covered by NaN lags.
        leads = ((starts - history.starts[-1]) // np.timedelta64(history.window_s, "s")).astype(np.int64)
        origins = np.full(leads.size, len(history), dtype=np.int64)
        x, anchor = features(np.log1p(history.values), _epoch_slots(starts, history.window_s), origins, leads,
                             self._layout)
        if self._trees is None:
            return np.maximum(np.expm1(anchor), 0.0)
        with _one_thread():
            correction = self._trees.predict(x)
        return np.maximum(np.expm1(anchor + correction), 0.0)
