"""OpenAI-style usage records: one API response object per line (JSONL), as services log them.

Chat Completions object (platform.openai.com/docs/api-reference/chat/object): `created`
(Unix time in seconds), `model`, `usage.prompt_tokens`, `usage.completion_tokens`.
Responses object (platform.openai.com/docs/api-reference/responses/object): `created_at`
(Unix seconds), `model`, `usage.input_tokens`, `usage.output_tokens`. vLLM, SGLang and most
gateways return the same objects, so their logged responses read as these formats too.
Nested keys are written dotted (`usage.prompt_tokens`).
"""

from preserve_cli.ingest.formats.base import LogFormat, numeric_time

OPENAI = LogFormat(
    name="openai",
    description="OpenAI Chat Completions objects, JSONL (created in Unix s, usage.prompt_tokens, "
                "usage.completion_tokens, model)",
    container="jsonl",
    columns={"ts": "created", "input": "usage.prompt_tokens", "output": "usage.completion_tokens"},
    optional_columns={"model": "model"},
    time=numeric_time("s"),
)

OPENAI_RESPONSES = LogFormat(
    name="openai_responses",
    description="OpenAI Responses objects, JSONL (created_at in Unix s, usage.input_tokens, usage.output_tokens, "
                "model)",
    container="jsonl",
    columns={"ts": "created_at", "input": "usage.input_tokens", "output": "usage.output_tokens"},
    optional_columns={"model": "model"},
    time=numeric_time("s"),
)
