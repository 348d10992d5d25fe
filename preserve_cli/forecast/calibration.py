"""Lead-dependent quantile bands: the p90 of a window two days out is not the p90 of
the next hour.

Every model's band comes from its own backtest errors (`rolling.py`), log1p(actual) -
log1p(p50), each tagged with its lead: how many windows after its fold's origin the
window was. Errors grow with the lead (one hour ahead on 10-minute m-large windows
persistence is off by 13% at lead 1 and 25% at lead 6; a week ahead the level has
had days to move), so one quantile pooled over all leads is too wide at the first
leads and too narrow at the last ones, and a 7-day horizon would reuse day-1 errors
for days 2-7.

The band is normalized split conformal (Papadopoulos, Gammerman & Vovk, "Normalized
nonconformity measures for regression conformal prediction", AIA 2008; Lei et al.,
"Distribution-free predictive inference for regression", JASA 2018, §5.2):

1. scale s(lead) = mean |error| of the lead's bucket (leads 1, 2, 3-4, 5-8, ...),
   made non-decreasing in the lead by isotonic regression weighted by the number of
   errors (pool adjacent violators: a bucket with few errors borrows from its
   neighbours instead of being noise);
2. each error divided by the scale of its lead; the conformal quantile Q_q of those
   ratios, pooled over every lead (so p99 still has all the errors to count on);
3. p_q(lead) = expm1(log1p(p50) + s(lead) * Q_q), as in `base.quantile_band`.

Leads past the longest one the backtest could score (a 7-day horizon from a history
of 9 days has day-ahead folds that reach at most a few days) take the scale of the
longest scored lead times sqrt(lead / longest): the h-step error of a random walk
grows as sqrt(h) (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice",
3rd ed., §5.5, the naive method's h-step standard deviation sigma * sqrt(h)), the
assumption that the level keeps wandering at the rate it wandered so far.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from preserve_cli.forecast.base import conformal_offset, quantile_band

# Below this share of the mean scale a lead's scale is floored: a lead whose few errors
# happened to be 0 would otherwise get a zero-width band however the others fared.
MIN_SCALE_SHARE = 0.1


def isotonic_increasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []          # [weighted mean, weight, count]
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, weight2, count2 = blocks.pop()
            mean1, weight1, count1 = blocks.pop()
            total = weight1 + weight2
            blocks.append([(mean1 * weight1 + mean2 * weight2) / total, total, count1 + count2])
    return np.concatenate([np.full(count, mean) for mean, _, count in blocks]) if blocks else np.empty(0)


def lead_bucket(leads: np.ndarray) -> np.ndarray:
    """Leads 1, 2, 3-4, 5-8, 9-16, ... share a bucket: each bucket pools as many leads as
    all before it, so the first leads keep their own scale and a day of hourly leads
    (7 day-ahead folds give 7 errors per lead) is estimated from tens of errors."""
    return np.floor(np.log2(np.maximum(leads, 1))).astype(np.int64)


def lead_scales(errors: np.ndarray, leads: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """s(lead) for each of `wanted` leads (>= 1), from errors at their leads (see the notes)."""
    buckets = lead_bucket(leads)
    measured = np.unique(buckets)
    weights = np.array([np.sum(buckets == b) for b in measured], dtype=float)
    means = np.array([np.mean(np.abs(errors[buckets == b])) for b in measured])
    fitted = isotonic_increasing(means, weights)
    floor = MIN_SCALE_SHARE * float(np.average(means, weights=weights))
    fitted = np.maximum(fitted, floor)
    # Between measured buckets: the last measured bucket at or before it (non-decreasing).
    wanted_buckets = lead_bucket(wanted)
    position = np.searchsorted(measured, wanted_buckets, side="right") - 1
    scales = fitted[np.clip(position, 0, None)]
    longest = int(leads.max())
    beyond = wanted > longest
    scales[beyond] = fitted[-1] * np.sqrt(wanted[beyond] / longest)
    return scales


def lead_band(median: np.ndarray, leads: np.ndarray, errors: np.ndarray, error_leads: np.ndarray,
              quantiles: Sequence[float]) -> dict[float, np.ndarray]:
    """Quantiles around `median` (leads >= 1 per window), non-decreasing in q and >= 0."""
    finite = np.isfinite(errors)
    errors, error_leads = errors[finite], error_leads[finite]
    if errors.size == 0 or not np.any(errors != 0):
        return quantile_band(median, errors, quantiles)
    scales = lead_scales(errors, error_leads, leads)
    ratios = errors / lead_scales(errors, error_leads, error_leads)
    base = np.log1p(np.maximum(median, 0.0))
    band: dict[float, np.ndarray] = {}
    previous = None
    for q in sorted(quantiles):
        if q == 0.5:
            values = np.maximum(median, 0.0)   # exactly the model's median, no round trip through log
        else:
            values = np.maximum(np.expm1(base + scales * conformal_offset(ratios, q)), 0.0)
        if previous is not None:
            values = np.maximum(values, previous)
        band[q] = values
        previous = values
    return band
