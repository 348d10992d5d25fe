"""Which model forecasts a history: the one asked for, a fallback when the history is
too short for it, or (`auto`) the best of a rolling-origin backtest. The choice is
always explained in a note when it is not simply the model asked for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.history import DAY_S, History, Split, wape
from preserve_cli.forecast.registry import AUTO, DEFAULT_MODEL, FALLBACKS, MODELS, model_class

BACKTEST_FOLDS = 3     # origins: the last 3 fold lengths of the history (3 days when the horizon is >= 1 day)


@dataclass(frozen=True)
class Selection:
    model: ForecastModel   # fitted on the whole history
    note: str = ""


def select_model(history: History, requested: str, *, horizon_windows: int) -> Selection:
    """Fit the model to use on `history` (which has at least one observed window)."""
    if requested == AUTO:
        return _auto(history, horizon_windows)
    return _with_fallback(history, requested)


def _fitted(cls: type[ForecastModel], history: History) -> ForecastModel:
    model = cls()
    model.fit(history)
    return model


def _with_fallback(history: History, requested: str) -> Selection:
    first = model_class(requested)
    reason = first.unfit_reason(history)
    if reason is None:
        return Selection(_fitted(first, history))
    for name in FALLBACKS:
        cls = MODELS[name]
        if cls is not first and cls.unfit_reason(history) is None:
            return Selection(_fitted(cls, history), f"{requested} not used ({reason}): fell back to {name}")
    raise ValueError("select_model needs a history with at least one observed window")


def backtest_folds(history: History, horizon_windows: int, folds: int = BACKTEST_FOLDS) -> list[Split]:
    """Rolling origin: forecast each of the last `folds` stretches of the history from the
    windows before it. A stretch is one day (or the horizon, when shorter)."""
    length = max(1, min(horizon_windows, DAY_S // history.window_s))
    result = []
    for k in range(folds, 0, -1):
        begin = len(history) - k * length
        if begin > 0:
            fold = history.split(begin, begin + length)
            if fold.train.n_observed and not np.all(np.isnan(fold.actual)):
                result.append(fold)
    return result


def backtest_wape(cls: type[ForecastModel], folds: list[Split]) -> float | None:
    """Pooled WAPE of the median forecast over the folds; None when a fold is too short for the model."""
    if not folds or any(cls.unfit_reason(fold.train) for fold in folds):
        return None
    actual = np.concatenate([fold.actual for fold in folds])
    predicted = np.concatenate([_fitted(cls, fold.train).point(fold.test_starts) for fold in folds])
    return wape(actual, predicted)


def _auto(history: History, horizon_windows: int) -> Selection:
    folds = backtest_folds(history, horizon_windows)
    scores = {}
    for name, cls in MODELS.items():
        if cls.unfit_reason(history) is None:
            score = backtest_wape(cls, folds)
            if score is not None:
                scores[name] = score
    if not scores:
        chosen = _with_fallback(history, DEFAULT_MODEL)
        why = "auto: history too short to backtest any model"
        return Selection(chosen.model, "; ".join(filter(None, (why, chosen.note))))
    best = min(scores, key=lambda name: (scores[name], list(MODELS).index(name)))
    ranking = ", ".join(f"{name} {score:.1%}" for name, score in scores.items())
    left_out = [name for name in MODELS if name not in scores]
    why_not = f"; too little history to backtest {', '.join(left_out)}" if left_out else ""
    note = f"auto: picked {best} (backtest WAPE over the last {len(folds)} stretches: {ranking}{why_not})"
    return Selection(_fitted(MODELS[best], history), note)
