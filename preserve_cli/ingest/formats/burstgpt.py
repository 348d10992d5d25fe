"""BurstGPT traces (HPMLL/BurstGPT: Azure OpenAI GPT usage at a university campus).

Columns, as the dataset's README documents them: `Timestamp` (seconds from 0:00:00 of
the trace's first day), `Model` (`ChatGPT` or `GPT-4`), `Request tokens`, `Response
tokens`, `Total tokens`, `Log Type` (`Conversation log` or `API log`). Times are
relative: they are added to the epoch (--epoch). The model becomes the `model` label
and the log type the `service` label, so demand can be split by either.
"""

from preserve_cli.ingest.formats.base import LogFormat, numeric_time

BURSTGPT = LogFormat(
    name="burstgpt",
    description="BurstGPT CSV (Timestamp in s from trace start, Model, Request tokens, Response tokens, Log Type)",
    container="csv",
    columns={"ts": "Timestamp", "input": "Request tokens", "output": "Response tokens", "model": "Model",
             "service": "Log Type"},
    time=numeric_time("s", relative=True),
)
