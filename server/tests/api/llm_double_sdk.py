"""Calls the mock LLM with the official OpenAI and Anthropic Python SDKs,
unchanged, and prints what they report as one JSON object (the Rust test
`llm_double_sdk` checks every number).

Usage: python llm_double_sdk.py BASE_URL API_KEY
"""

import json
import sys

import anthropic
import openai

BASE, KEY = sys.argv[1], sys.argv[2]
oa = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
an = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)
out = {"versions": {"openai": openai.__version__, "anthropic": anthropic.__version__}}

# Prompt: 5 words. 2 cached, 3 reasoning tokens, 8 words wanted.
MESSAGES = [{"role": "user", "content": "Say hello to the meter"}]
TUNED = {"x-mock-cached-tokens": "2", "x-mock-reasoning-tokens": "3"}


def chat_usage(u):
    return {
        "prompt": u.prompt_tokens,
        "completion": u.completion_tokens,
        "total": u.total_tokens,
        "cached": u.prompt_tokens_details.cached_tokens,
        "reasoning": u.completion_tokens_details.reasoning_tokens,
    }


def responses_usage(u):
    return {
        "input": u.input_tokens,
        "cached": u.input_tokens_details.cached_tokens,
        "output": u.output_tokens,
        "reasoning": u.output_tokens_details.reasoning_tokens,
        "total": u.total_tokens,
    }


def anthropic_usage(u):
    return {
        "input": u.input_tokens,
        "cache_read": u.cache_read_input_tokens,
        "cache_creation": u.cache_creation_input_tokens,
        "output": u.output_tokens,
    }


r = oa.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=TUNED)
out["chat"] = {
    "usage": chat_usage(r.usage),
    "text": r.choices[0].message.content,
    "finish": r.choices[0].finish_reason,
    "model": r.model,
}

chunks = list(
    oa.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        max_completion_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=TUNED,
    )
)
out["chat_stream"] = {
    "usage": chat_usage(chunks[-1].usage),
    "last_choices": len(chunks[-1].choices),
    "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
    "finish": [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason][0],
}

r = oa.responses.create(model="gpt-4.1", instructions="Be brief.", input="one two three", extra_headers=TUNED)
out["responses"] = {"usage": responses_usage(r.usage), "text": r.output_text, "status": r.status, "items": [i.type for i in r.output]}

events = list(
    oa.responses.create(model="gpt-4.1", input="one two three", max_output_tokens=5, stream=True, extra_headers=TUNED)
)
out["responses_stream"] = {
    "usage": responses_usage(events[-1].response.usage),
    "text": "".join(e.delta for e in events if e.type == "response.output_text.delta"),
    "last": events[-1].type,
    "status": events[-1].response.status,
}

# The SDK's stream helper checks item ids and order as it accumulates
# (web search items first, as OpenAI sends them).
with oa.responses.stream(
    model="gpt-4.1", input="one two three", tools=[{"type": "web_search"}], extra_headers={**TUNED, "x-mock-web-searches": "2"}
) as s:
    final = s.get_final_response()
out["responses_helper"] = {
    "usage": responses_usage(final.usage),
    "text": final.output_text,
    "status": final.status,
    "items": [i.type for i in final.output],
}

r = oa.embeddings.create(model="text-embedding-3-small", input=["a b c", "d e"], dimensions=4)
out["embeddings"] = {"prompt": r.usage.prompt_tokens, "total": r.usage.total_tokens, "vectors": [d.embedding for d in r.data]}

out["models"] = [m.id for m in oa.models.list()]

r = an.messages.create(
    model="claude-sonnet-4-20250514",
    max_tokens=6,
    messages=MESSAGES,
    system="Be brief.",
    extra_headers={"x-mock-cached-tokens": "2", "x-mock-cache-write-tokens": "1"},
)
out["messages"] = {"usage": anthropic_usage(r.usage), "text": r.content[0].text, "stop": r.stop_reason, "model": r.model}

with an.messages.stream(
    model="claude-sonnet-4-20250514",
    max_tokens=100,
    messages=MESSAGES,
    extra_headers={"x-mock-cached-tokens": "2", "x-mock-ping": "1", "x-mock-repeat-usage": "1"},
) as s:
    text = "".join(s.text_stream)
    final = s.get_final_message()
out["messages_stream"] = {"usage": anthropic_usage(final.usage), "text": text, "stop": final.stop_reason}

raw = list(an.messages.create(model="claude-sonnet-4-20250514", max_tokens=3, messages=MESSAGES, stream=True))
out["messages_raw_events"] = [e.type for e in raw]

out["count_tokens"] = an.messages.count_tokens(model="claude-sonnet-4-20250514", messages=MESSAGES, system="Be brief.").input_tokens


def failure(call):
    try:
        call()
    except Exception as e:  # the SDK's own exception classes are the point
        return {"class": type(e).__name__, "status": getattr(e, "status_code", None), "body": getattr(e, "body", None)}
    return None


bad_oa = openai.OpenAI(base_url=BASE + "/v1", api_key="sk-wrong-key-0000", max_retries=0)
bad_an = anthropic.Anthropic(base_url=BASE, api_key="sk-wrong-key-0000", max_retries=0)
out["errors"] = {
    "openai_key": failure(lambda: bad_oa.chat.completions.create(model="m", messages=MESSAGES)),
    "openai_429": failure(
        lambda: oa.chat.completions.create(model="m", messages=MESSAGES, extra_headers={"x-mock-status": "429"})
    ),
    "anthropic_key": failure(lambda: bad_an.messages.create(model="m", max_tokens=5, messages=MESSAGES)),
    "anthropic_529": failure(
        lambda: an.messages.create(model="m", max_tokens=5, messages=MESSAGES, extra_headers={"x-mock-status": "529"})
    ),
    "anthropic_stream_error": failure(
        lambda: list(
            an.messages.create(
                model="m", max_tokens=5, messages=MESSAGES, stream=True, extra_headers={"x-mock-error-event": "1"}
            )
        )
    ),
}

print(json.dumps(out))
