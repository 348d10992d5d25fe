"""Realistic samples of the log formats, written from each format's public documentation
(sources in the format modules' docstrings), with the rows they must give."""

from __future__ import annotations

import json

# OpenAI Chat Completions objects as an API client logs them (platform.openai.com/docs/api-reference/chat/object).
OPENAI_RECORDS = [
    {"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "created": 1741569952,
     "model": "gpt-4.1-2025-04-14",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I assist you today?",
                                          "refusal": None, "annotations": []},
                  "logprobs": None, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
               "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                             "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
     "service_tier": "default"},
    {"id": "chatcmpl-B9MBt1", "object": "chat.completion", "created": 1741569960, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure."}, "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 1204, "completion_tokens": 311, "total_tokens": 1515}},
    {"id": "chatcmpl-B9MBu7", "object": "chat.completion", "created": 1741573552, "model": "gpt-4o-mini",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "..."}, "finish_reason": "length"}],
     "usage": {"prompt_tokens": 88, "completion_tokens": 4096, "total_tokens": 4184,
               "prompt_tokens_details": {"cached_tokens": 64}}},
]
OPENAI_ROWS = [("2025-03-10T01:25:52Z", 19, 10, "gpt-4.1-2025-04-14"), ("2025-03-10T01:26:00Z", 1204, 311, "gpt-4o-mini"),
               ("2025-03-10T02:25:52Z", 88, 4096, "gpt-4o-mini")]

# OpenAI Responses objects (platform.openai.com/docs/api-reference/responses/object).
OPENAI_RESPONSES_RECORDS = [
    {"id": "resp_67ccd2bed1ec8190b14f964abc054267", "object": "response", "created_at": 1741476542,
     "status": "completed", "model": "gpt-4.1-2025-04-14",
     "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "In a peaceful grove...", "annotations": []}]}],
     "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 87,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 123}},
    {"id": "resp_2", "object": "response", "created_at": 1741476600, "status": "completed", "model": "o4-mini",
     "output": [], "usage": {"input_tokens": 2048, "output_tokens": 1500,
                            "output_tokens_details": {"reasoning_tokens": 1200}, "total_tokens": 3548}},
]
OPENAI_RESPONSES_ROWS = [("2025-03-08T23:29:02Z", 36, 87, "gpt-4.1-2025-04-14"),
                         ("2025-03-08T23:30:00Z", 2048, 1500, "o4-mini")]

# LiteLLM StandardLoggingPayload (docs.litellm.ai/docs/proxy/logging_spec): one streaming call
# (first token 0.35 s after the start), one non-streaming (completionStartTime = endTime).
LITELLM_RECORDS = [
    {"id": "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f", "trace_id": "97a8b1c4", "call_type": "acompletion",
     "response_cost": 0.00028, "status": "success", "total_tokens": 542, "prompt_tokens": 512,
     "completion_tokens": 30, "startTime": 1715299200.25, "endTime": 1715299201.5,
     "completionStartTime": 1715299200.6, "model": "llama-3-8b", "model_id": "a1b2", "model_group": "llama-3-8b",
     "api_base": "http://vllm-0:8000/v1", "cache_hit": None,
     "metadata": {"user_api_key_hash": "88dc28d0", "user_api_key_alias": None,
                  "user_api_key_team_id": "search", "user_api_key_user_id": "u-17", "requester_ip_address": ""},
     "messages": [{"role": "user", "content": "hi"}], "response": {"choices": []}},
    {"id": "chatcmpl-3", "call_type": "completion", "status": "success", "total_tokens": 1100,
     "prompt_tokens": 1000, "completion_tokens": 100, "startTime": 1715302800.0, "endTime": 1715302802.0,
     "completionStartTime": 1715302802.0, "model": "llama-3-70b",
     "metadata": {"user_api_key_team_id": "chat", "user_api_key_user_id": "u-4"}},
]
# (ts, input, output, model, service, client, ttft_ms, e2e_ms)
LITELLM_ROWS = [("2024-05-10T00:00:00.250000Z", 512, 30, "llama-3-8b", "search", "u-17", 350.0, 1250.0),
                ("2024-05-10T01:00:00Z", 1000, 100, "llama-3-70b", "chat", "u-4", 2000.0, 2000.0)]

# LiteLLM_SpendLogs exported as CSV (psql's copy ... CSV HEADER): timestamp(3) without time zone.
LITELLM_SPEND_CSV = (
    "request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,"
    "completionStartTime,model,model_id,model_group,api_base,user,metadata,cache_hit,cache_key,request_tags,"
    "team_id,end_user\n"
    'chatcmpl-1,acompletion,88dc28d0,0.00031,612,600,12,2024-05-10 00:00:01.125,2024-05-10 00:00:02.000,'
    '2024-05-10 00:00:01.325,llama-3-8b,a1b2,llama-3-8b,http://vllm-0:8000/v1,u-17,'
    '"{""user_api_key_team_alias"": ""search""}",False,,[],team-search,\n'
    'chatcmpl-2,acompletion,88dc28d0,0.002,3300,3000,300,2024-05-10 00:59:59.900,2024-05-10 01:00:09.900,,'
    'llama-3-70b,c3d4,llama-3-70b,http://vllm-1:8000/v1,u-4,{},False,,[],team-chat,\n'
)
LITELLM_SPEND_ROWS = [("2024-05-10T00:00:01.125000Z", 600, 12, "llama-3-8b", "team-search", "u-17", 200.0, 875.0),
                      ("2024-05-10T00:59:59.900000Z", 3000, 300, "llama-3-70b", "team-chat", "u-4", None, 10000.0)]

# Kong AI Gateway, file-log plugin output with the AI Proxy fields
# (developer.konghq.com/ai-gateway/ai-audit-log-reference); the second is a cache hit (no llm_latency).
KONG_RECORDS = [
    {"started_at": 1715299200123, "client_ip": "10.0.0.7",
     "request": {"method": "POST", "uri": "/openai/v1/chat/completions", "size": 412},
     "response": {"status": 200, "size": 980}, "latencies": {"request": 2702, "kong": 29, "proxy": 2673},
     "service": {"name": "llm-chat", "host": "api.openai.com"}, "consumer": {"username": "team-a"},
     "ai": {"payload": {"request": "[optional]"},
            "proxy": {"usage": {"prompt_token": 28, "total_tokens": 48, "completion_token": 20, "cost": 0.0038,
                                "time_per_token": 133},
                      "meta": {"request_model": "gpt-4o", "provider_name": "openai", "response_model": "gpt-4o",
                               "plugin_id": "546c3856-24b3-469a-bd6c-f6083babd2cd", "llm_latency": 2670}}}},
    {"started_at": 1715299205000, "service": {"name": "llm-chat"}, "consumer": {"username": "team-b"},
     "ai": {"proxy": {"usage": {"prompt_token": 89, "total_tokens": 145, "completion_token": 56, "cost": 0.0012},
                      "meta": {"request_model": "gpt-4o", "provider_name": "openai", "response_model": "gpt-4o"},
                      "cache": {"cache_status": "Hit", "fetch_latency": 21}}}},
]
KONG_ROWS = [("2024-05-10T00:00:00.123000Z", 28, 20, "gpt-4o", "llm-chat", "team-a", 2670.0),
             ("2024-05-10T00:00:05Z", 89, 56, "gpt-4o", "llm-chat", "team-b", None)]

# BurstGPT (HPMLL/BurstGPT README): Timestamp s from the trace start.
BURSTGPT_CSV = ("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                "5,ChatGPT,472,18,490,Conversation log\n"
                "45,ChatGPT,1087,409,1496,Conversation log\n"
                "118,GPT-4,417,0,417,API log\n")
BURSTGPT_ROWS = [("2024-05-10T00:00:05Z", 472, 18, "ChatGPT", "Conversation log"),
                 ("2024-05-10T00:00:45Z", 1087, 409, "ChatGPT", "Conversation log"),
                 ("2024-05-10T00:01:58Z", 417, 0, "GPT-4", "API log")]


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)
