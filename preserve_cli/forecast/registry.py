"""Forecast models by name. Adding a model = one module with a `ForecastModel`
subclass and one line here."""

from __future__ import annotations

from preserve_cli.errors import InputError
from preserve_cli.forecast.autoregression import LogChangeAutoregression
from preserve_cli.forecast.base import ForecastModel
from preserve_cli.forecast.ensemble import Ensemble
from preserve_cli.forecast.flat import Flat
from preserve_cli.forecast.gbm_model import GradientBoosting
from preserve_cli.forecast.prophet_model import ProphetModel
from preserve_cli.forecast.recent import Persistence, RecentLevel
from preserve_cli.forecast.seasonal_naive import SeasonalNaiveDay, SeasonalNaiveWeek
from preserve_cli.forecast.smoothing import Smoothing

# Order matters: `auto` breaks ties in this order, most structured model first.
MODELS: dict[str, type[ForecastModel]] = {
    model.name: model for model in (Ensemble, ProphetModel, GradientBoosting, RecentLevel, Smoothing,
                                    LogChangeAutoregression,
                                    SeasonalNaiveWeek, SeasonalNaiveDay, Flat, Persistence)
}
# What `auto` keeps unless another model's backtest is clearly better (selection.py):
# for horizons of a day or more, and shorter ones.
AUTO_DEFAULT = Ensemble.name
AUTO_SHORT_DEFAULT = Smoothing.name
AUTO = "auto"
DEFAULT_MODEL = AUTO
# When the asked-for model cannot be fit on a history, these are tried in order.
FALLBACKS = (SeasonalNaiveDay.name, Flat.name)
# What `auto` uses when no model has a backtest (the fallbacks follow it).
DEFAULT_FALLBACK_START = ProphetModel.name


def model_names() -> list[str]:
    """What `--model` accepts."""
    return [*MODELS, AUTO]


def check_model_name(name: str) -> None:
    if name not in model_names():
        raise InputError(f"unknown forecast model {name!r}", field="model",
                         fix=f"use one of {', '.join(model_names())}")


def model_class(name: str) -> type[ForecastModel]:
    """The class of a registered model (`auto` is a selection rule, not a class)."""
    check_model_name(name)
    return MODELS[name]
