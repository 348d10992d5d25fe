"""LiteLLM proxy logs: the StandardLoggingPayload (JSONL) and the LiteLLM_SpendLogs table (CSV export).

StandardLoggingPayload (docs.litellm.ai/docs/proxy/logging_spec), what LiteLLM's bucket
and custom loggers write, one object per request: `startTime`, `endTime` and
`completionStartTime` are floats (Unix seconds; `completionStartTime` is when the first
token came for a streaming call, the end otherwise), `prompt_tokens`, `completion_tokens`,
`model`; `metadata.user_api_key_team_id` and `metadata.user_api_key_user_id` say who
called. TTFT = completionStartTime - startTime, end-to-end = endTime - startTime.

LiteLLM_SpendLogs (the proxy's Postgres table, schema.prisma): `startTime`, `endTime`,
`completionStartTime` are `timestamp(3) without time zone` (UTC), plus `prompt_tokens`,
`completion_tokens`, `model`, `user`, `team_id`; a CSV export of it (psql's `copy ... CSV HEADER`)
reads as `litellm_spend`.
"""

from preserve_cli.ingest.formats.base import WALLCLOCK_UTC, LogFormat, numeric_time

LITELLM = LogFormat(
    name="litellm",
    description="LiteLLM StandardLoggingPayload JSONL (startTime/endTime/completionStartTime in Unix s, "
                "prompt_tokens, completion_tokens, model)",
    container="jsonl",
    columns={"ts": "startTime", "input": "prompt_tokens", "output": "completion_tokens"},
    optional_columns={"model": "model", "service": "metadata.user_api_key_team_id",
                      "client": "metadata.user_api_key_user_id", "first_token_at": "completionStartTime",
                      "end_at": "endTime"},
    time=numeric_time("s"),
)

LITELLM_SPEND = LogFormat(
    name="litellm_spend",
    description="LiteLLM_SpendLogs CSV export (startTime UTC, prompt_tokens, completion_tokens, model; "
                "endTime, completionStartTime, user, team_id when present)",
    container="csv",
    columns={"ts": "startTime", "input": "prompt_tokens", "output": "completion_tokens"},
    optional_columns={"model": "model", "service": "team_id", "client": "user",
                      "first_token_at": "completionStartTime", "end_at": "endTime"},
    time=WALLCLOCK_UTC,
)
