"""Forecast stage: demand.csv -> forecast.csv (quantiles of demand per series, metric and window)."""

from preserve_cli.forecast.holidays import HolidayCalendar, parse_holidays
from preserve_cli.forecast.registry import MODELS, model_names
from preserve_cli.forecast.run import forecast_demand, normalize_quantiles

__all__ = ["MODELS", "HolidayCalendar", "forecast_demand", "model_names", "normalize_quantiles", "parse_holidays"]
