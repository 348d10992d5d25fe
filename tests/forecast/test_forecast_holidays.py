"""Holiday calendars: which windows are days off, and the day-off effect Prophet and the ensemble learn."""

from __future__ import annotations

import numpy as np
import pytest
from forecast_synthetic import demand_of, synthetic_series
from typer.testing import CliRunner

from preserve_cli.cli.app import app
from preserve_cli.demand.schema import write_demand
from preserve_cli.errors import InputError
from preserve_cli.forecast import forecast_demand
from preserve_cli.forecast.backtest import backtest_demand
from preserve_cli.forecast.history import wape
from preserve_cli.forecast.holidays import parse_holidays
from preserve_cli.plan.fleet import read_fleet
from preserve_cli.plan.pipeline import run_plan
from tests.conftest import CAPACITY_YAML, FLEET_YAML

START = np.datetime64("2025-05-12T00:00:00", "s")   # a Monday; US holidays ahead: May 26, June 19, July 4
HOUR = 3600
DAY_OFF = 0.5                                         # traffic on a holiday, as a share of a normal day


def _hour(text: str) -> np.ndarray:
    return np.array([np.datetime64(text, "s")])


def _with_days_off(calendar, days: int = 56, start: np.datetime64 = START):
    """Hourly requests from `start`, holidays of `calendar` at DAY_OFF of the usual traffic."""
    series = synthetic_series("chat", hours=days * 24, seed=5, start=start)
    scale = np.where(calendar.flags(series.starts) > 0, DAY_OFF, 1.0)
    return series.starts, series.requests * scale


def test_a_window_is_a_holiday_by_the_local_date_of_its_start():
    new_york = parse_holidays("US", "America/New_York")
    utc = parse_holidays("us")                                 # codes are case-insensitive
    late_on_the_4th = _hour("2025-07-05T02:00")                 # 22:00 on July 4 in New York
    early_on_the_4th = _hour("2025-07-04T02:00")                # 22:00 on July 3 in New York
    assert new_york.flags(late_on_the_4th)[0] == 1 and new_york.flags(early_on_the_4th)[0] == 0
    assert utc.flags(late_on_the_4th)[0] == 0 and utc.flags(early_on_the_4th)[0] == 1
    both = parse_holidays("US,DE")                              # German Unity Day is no US holiday
    unity_day = _hour("2025-10-03T12:00")
    assert parse_holidays("US").flags(unity_day)[0] == 0 and both.flags(unity_day)[0] == 1
    assert parse_holidays("") is None and parse_holidays(None) is None


def _forecast(values, days: int, model: str, calendar, hours: int = 24):
    """The requests forecast of the `hours` after `days` of history from START."""
    forecast = forecast_demand(_demand(values, days), hours * HOUR, model=model, metrics=("requests",),
                               holidays=calendar)
    return forecast.series[0]


def test_every_model_forecasts_a_holiday_as_a_day_off():
    calendar = parse_holidays("US")
    starts, values = _with_days_off(calendar)
    july_4 = int(np.flatnonzero(starts == np.datetime64("2025-07-04T00:00", "s"))[0])
    actual = values[july_4:july_4 + 24]
    for model, without_at_least in (("ensemble", 0.4), ("recent-level", 0.3)):
        plain, known = (_forecast(values, 53, model, c) for c in (None, calendar))
        # Without the calendar July 4 (a Friday) is forecast as an ordinary weekday: about twice the traffic.
        assert wape(actual, plain.quantiles[0.5]) > without_at_least, model
        assert wape(actual, known.quantiles[0.5]) < wape(actual, plain.quantiles[0.5]) / 2, model
        effect = float(known.note.split("holidays US (UTC): x")[1].split()[0])
        assert 0.4 < effect < 0.6, known.note                # the 0.5 it was built with, from 2 holidays
        assert "from 2 holiday day(s) in the history" in known.note


def test_the_day_after_a_holiday_is_not_forecast_at_the_holidays_level():
    calendar = parse_holidays("US")
    _, values = _with_days_off(calendar)
    after_memorial_day = values[15 * 24:16 * 24]                 # Tuesday May 27; history to Monday May 26
    after_ordinary_monday = values[22 * 24:23 * 24]              # Tuesday June 3
    for model in ("ensemble", "recent-level"):
        plain, known = (wape(after_memorial_day, _forecast(values, 15, model, c).quantiles[0.5])
                        for c in (None, calendar))
        ordinary = wape(after_ordinary_monday, _forecast(values, 22, model, calendar).quantiles[0.5])
        # Without the calendar the day off pulls the next day's level down.
        assert known < plain - 0.1 and known < ordinary + 0.05, (model, plain, known, ordinary)


def test_a_history_without_a_holiday_gives_the_forecast_without_a_calendar():
    calendar = parse_holidays("US")
    _, values = _with_days_off(calendar, days=14)                # May 12-25: no US holiday
    known, plain = (_forecast(values, 14, "ensemble", c) for c in (calendar, None))
    assert np.array_equal(known.quantiles[0.9], plain.quantiles[0.9])
    assert "holidays US (UTC): no holiday with an ordinary week beside it" in known.note


def _demand(values, days: int):
    series = synthetic_series("chat", hours=days * 24, seed=5, start=START)
    series.requests[:] = values[:days * 24]
    return demand_of(series)


def test_forecast_and_backtest_take_the_calendar_from_a_file(tmp_path):
    days_off = tmp_path / "days-off.csv"
    days_off.write_text("date,name\n2025-05-26,memorial\n2025-06-19,juneteenth\n\n2025-07-04,independence\n")
    calendar = parse_holidays(str(days_off))
    _, values = _with_days_off(calendar)
    # History to July 3; July 4 is a Friday off (half a weekday), July 5 a Saturday (0.6 of a weekday).
    forecast = forecast_demand(_demand(values, 53), 48 * HOUR, model="prophet", metrics=("requests",),
                               holidays=calendar)
    (chat,) = forecast.series
    assert f"holidays {days_off} (UTC): x" in chat.note
    friday_off, saturday = chat.quantiles[0.5][:24].sum(), chat.quantiles[0.5][24:].sum()
    assert friday_off < 0.95 * saturday          # without the calendar a Friday is forecast 1.67x a Saturday
    # The backtest forecasts the past holiday (June 19, the last day of this demand) with the same calendar.
    result = backtest_demand(_demand(values, 39), 24 * HOUR, origins=1, models=["prophet"], metrics=("requests",),
                             holidays=calendar)
    (june_19,) = result.results
    assert june_19.origin == np.datetime64("2025-06-19T00:00", "s")
    assert wape(june_19.actual, june_19.forecast.quantiles[0.5]) < 0.25


@pytest.mark.parametrize("text, where", [
    ("date,name\n2025-05-26,a\n2025-13-01,b\n", "days-off.csv:3"),
    ("day,name\n2025-05-26,a\n", "days-off.csv:1"),
    ("", "days-off.csv"),
    ("date\n\n", "days-off.csv"),
])
def test_a_bad_holiday_file_names_the_file_and_line(tmp_path, text, where):
    path = tmp_path / "days-off.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        parse_holidays(str(path))
    assert where in str(caught.value) and "\n" not in str(caught.value)


def test_cli_refuses_an_unknown_country_or_zone_and_writes_nothing(tmp_path):
    demand_csv = tmp_path / "demand.csv"
    write_demand(demand_of(synthetic_series("chat", hours=72, seed=3)), demand_csv)
    for flags, field in ((["--holidays", "XX"], "--holidays"), (["--holidays", "US-ZZ"], "--holidays"),
                         (["--holidays", "US", "--timezone", "Mars/Olympus"], "--timezone"),
                         (["--holidays", "missing.csv"], "missing.csv")):
        output = tmp_path / "forecast.csv"
        result = CliRunner().invoke(app, ["forecast", str(demand_csv), "--horizon", "1d", "-o", str(output), *flags])
        assert result.exit_code == 2, result.output
        assert field in result.output and "Traceback" not in result.output
        assert not output.exists()


def test_cli_forecast_reports_the_learnt_effect(tmp_path):
    calendar = parse_holidays("US")
    start = np.datetime64("2025-05-19T00:00:00", "s")             # Memorial Day, May 26, in the history
    _, values = _with_days_off(calendar, 21, start)
    series = synthetic_series("chat", hours=21 * 24, seed=5, start=start)
    series.requests[:] = values
    demand_csv, output = tmp_path / "demand.csv", tmp_path / "forecast.csv"
    write_demand(demand_of(series), demand_csv)
    result = CliRunner().invoke(app, ["forecast", str(demand_csv), "--horizon", "1d", "--model", "prophet",
                                      "--holidays", "US", "--timezone", "UTC", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "chat/requests:" in result.output and "holidays US (UTC): x0." in result.output
    assert output.exists()


def test_fleet_planning_holidays(tmp_path):
    fleet_text = (
        "models: {llama-3-8b: {config: llama-3-8b}}\n"
        "pools: [{name: a100, gpu: a100-80gb, region: eastus, tp: 1, min: 0, max: 4, usd_per_hour: 3.0}]\n"
        "planning: {window: 1h, horizon: 1d, timezone: America/New_York, holidays: %s}\n")
    (tmp_path / "days-off.csv").write_text("date\n2025-12-24\n")
    fleet_path = tmp_path / "fleet.yaml"
    fleet_path.write_text(fleet_text % "[US, GB]")
    calendar = read_fleet(fleet_path).planning.holidays
    assert calendar.countries == (("US", None), ("GB", None)) and calendar.timezone == "America/New_York"
    fleet_path.write_text(fleet_text % "days-off.csv")              # relative to the fleet file
    assert read_fleet(fleet_path).planning.holidays.flags(_hour("2025-12-24T12:00"))[0] == 1
    for bad in ("XX", "{a: 1}", "missing.csv"):
        fleet_path.write_text(fleet_text % bad)
        with pytest.raises(InputError) as caught:
            read_fleet(fleet_path)
        assert "planning.holidays" in str(caught.value) or "missing.csv" in str(caught.value)


def test_plan_buys_fewer_gpus_for_a_holiday_in_the_fleets_calendar(tmp_path):
    calendar = parse_holidays("US")
    start, days = np.datetime64("2025-05-12T00:00:00", "s"), 53                # to July 3; the plan covers July 4-5
    _, values = _with_days_off(calendar, days, start)
    series = synthetic_series("all", hours=days * 24, seed=5, start=start)
    scale = 100 * values / series.requests
    for metric in ("requests", "prefill_tokens", "decode_tokens"):
        series.metric(metric)[:] = series.metric(metric) * scale
    demand_csv = tmp_path / "demand.csv"
    write_demand(demand_of(series), demand_csv)
    (tmp_path / "capacity.yaml").write_text(CAPACITY_YAML)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET_YAML.replace("horizon: 1d", "horizon: 2d")
                     .replace("timezone: Europe/Berlin}", "timezone: UTC, holidays: [US]}"))
    run = run_plan([str(demand_csv)], fleet_path=str(fleet), capacity_path=str(tmp_path / "capacity.yaml"),
                   forecast_model="prophet")
    gpus = sum(run.plan.replicas[d.name] * d.pool.tp for d in run.plan.deployments)
    friday_off, saturday = gpus[:24].sum(), gpus[24:].sum()
    # Traffic: July 4 at half a weekday, Saturday at 0.6 of one. Without the calendar the plan for that Friday
    # is a full weekday's: 159 GPU-hours against Saturday's 102; with it 78 (measured 2026-11-21).
    assert friday_off <= saturday
