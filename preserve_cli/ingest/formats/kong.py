"""Kong AI Gateway logs: Kong's log serializer (file-log, http-log, ...) with the AI Proxy fields, JSONL.

Kong writes one JSON object per request; `started_at` is when the request started (Unix
time in ms). The AI Proxy plugin adds, per the AI Gateway audit log reference
(developer.konghq.com/ai-gateway/ai-audit-log-reference): `ai.proxy.usage.prompt_token`,
`ai.proxy.usage.completion_token`, `ai.proxy.meta.response_model` and
`ai.proxy.meta.llm_latency` (ms for the provider to produce the full response; left out
on a cache hit). Kong's own `service.name` and `consumer.username` are kept as labels.
"""

from preserve_cli.ingest.formats.base import LogFormat, numeric_time

KONG = LogFormat(
    name="kong",
    description="Kong AI Gateway JSONL (started_at in Unix ms, ai.proxy.usage.prompt_token, "
                "ai.proxy.usage.completion_token, ai.proxy.meta.llm_latency)",
    container="jsonl",
    columns={"ts": "started_at", "input": "ai.proxy.usage.prompt_token", "output": "ai.proxy.usage.completion_token"},
    optional_columns={"model": "ai.proxy.meta.response_model", "service": "service.name",
                      "client": "consumer.username", "e2e_ms": "ai.proxy.meta.llm_latency"},
    time=numeric_time("ms"),
)
