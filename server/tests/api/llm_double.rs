//! The mock LLM over real HTTP: each route streamed and not, each switch,
//! and usage predicted exactly from the request (see `llm_double::plan`).
//! Streams are read with the gateway's own parser and meter, so these tests
//! also show the two agree. No database: plain `tokio::test`s.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollbooth::gateway::{from_body, Endpoint, Observed, SseEvent, SseParser, StreamMeter};
use tollbooth::pricing::Usage;
use tollbooth_server::llm_double::{self, DoubleConfig, RunningLlmDouble, Switches, WORDS};

const KEY: &str = "sk-test-mock-llm-0123456789";

async fn double() -> RunningLlmDouble {
    llm_double::spawn(DoubleConfig { api_key: KEY.into(), switches: Switches::default() }).await.unwrap()
}

fn openai(d: &RunningLlmDouble, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().post(format!("{}{path}", d.base_url())).bearer_auth(KEY)
}

fn anthropic(d: &RunningLlmDouble, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}{path}", d.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
}

fn usage(input: u64, cached: u64, written: u64, output: u64, reasoning: u64) -> Usage {
    Usage { input_tokens: input, cached_input_tokens: cached, cache_creation_tokens: written, output_tokens: output, reasoning_tokens: reasoning, ..Usage::default() }
}

/// The first `n` words of the double's answer, as one text.
fn words(n: usize) -> String {
    WORDS.iter().cycle().take(n).copied().collect::<Vec<_>>().join(" ")
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap())
}

/// A stream read to its end (or to the break), parsed and metered.
struct Streamed {
    events: Vec<SseEvent>,
    meter: StreamMeter,
    usage_only_chunks: usize,
    /// Whether the transfer broke instead of ending.
    broken: bool,
}

impl Streamed {
    async fn read(endpoint: Endpoint, mut resp: reqwest::Response) -> Streamed {
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/event-stream; charset=utf-8");
        let mut parser = SseParser::new();
        let (mut frames, mut broken) = (Vec::new(), false);
        loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => frames.extend(parser.push(&bytes)),
                Ok(None) => break,
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        frames.extend(parser.finish());
        let mut meter = StreamMeter::new(endpoint);
        let mut usage_only_chunks = 0;
        let events: Vec<SseEvent> = frames.into_iter().filter_map(|f| f.event).collect();
        for (i, e) in events.iter().enumerate() {
            if meter.observe(e, i as u64) == Observed::UsageOnlyChunk {
                usage_only_chunks += 1;
            }
        }
        Streamed { events, meter, usage_only_chunks, broken }
    }

    fn names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.name()).collect()
    }

    fn json(&self) -> Vec<Value> {
        self.events.iter().filter(|e| e.data != "[DONE]").map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    }
}

/// 2 system words + 5 user words.
fn chat_body() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Say hello to the meter"}]}
    ]})
}

#[tokio::test]
async fn chat_completion_answers_in_openai_shape_with_predictable_usage() {
    let d = double().await;
    let (status, headers, body) = json_of(openai(&d, "/v1/chat/completions").json(&chat_body()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!((body["object"].as_str(), body["model"].as_str()), (Some("chat.completion"), Some("gpt-4o-mini")));
    assert!(body["created"].as_i64().unwrap() > 1_700_000_000);
    let choice = &body["choices"][0];
    assert_eq!(choice["message"], json!({"role": "assistant", "content": words(8), "refusal": null, "annotations": []}));
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 7);
    assert_eq!(body["usage"]["completion_tokens"], 8);
    assert_eq!(body["usage"]["total_tokens"], 15);
    let read = from_body(Endpoint::ChatCompletions, body.to_string().as_bytes()).unwrap();
    assert_eq!(read.usage, Some(usage(7, 0, 0, 8, 0)));
}

#[tokio::test]
async fn max_completion_tokens_bounds_the_output_and_switches_set_cache_and_reasoning() {
    let d = double().await;
    let mut req = chat_body();
    req["max_completion_tokens"] = json!(5);
    let resp = openai(&d, "/v1/chat/completions")
        .header("x-mock-cached-tokens", "3")
        .header("x-mock-cache-write-tokens", "2")
        .header("x-mock-reasoning-tokens", "2")
        .header("x-mock-model", "gpt-4o-mini-2024-07-18")
        .json(&req)
        .send()
        .await
        .unwrap();
    let (_, _, body) = json_of(resp).await;
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["choices"][0]["message"]["content"], words(3), "2 of the 5 tokens were reasoning");
    assert_eq!(body["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(body["usage"]["prompt_tokens_details"], json!({"cached_tokens": 3, "audio_tokens": 0, "cache_write_tokens": 2}));
    assert_eq!(body["usage"]["completion_tokens_details"]["reasoning_tokens"], 2);
    let read = from_body(Endpoint::ChatCompletions, body.to_string().as_bytes()).unwrap();
    assert_eq!(read.usage, Some(usage(7, 3, 2, 5, 2)));
    assert_eq!(read.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
}

#[tokio::test]
async fn streamed_chat_sends_the_usage_chunk_only_when_asked_then_done() {
    let d = double().await;
    let mut req = chat_body();
    req["stream"] = json!(true);
    let plain = Streamed::read(Endpoint::ChatCompletions, openai(&d, "/v1/chat/completions").json(&req).send().await.unwrap()).await;
    assert_eq!(plain.events.last().unwrap().data, "[DONE]");
    assert!(plain.json().iter().all(|c| c.get("usage").is_none()), "no usage key unless asked");
    assert_eq!(plain.meter.usage(), None);
    assert_eq!(plain.meter.text(), words(8));
    assert!(plain.meter.finished());

    req["stream_options"] = json!({"include_usage": true});
    let s = Streamed::read(Endpoint::ChatCompletions, openai(&d, "/v1/chat/completions").json(&req).send().await.unwrap()).await;
    let chunks = s.json();
    // role chunk, 8 words, finish chunk, usage-only chunk, [DONE]
    assert_eq!(s.events.len(), 12);
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    assert_eq!(chunks[9]["choices"][0]["finish_reason"], "stop");
    assert!(chunks[..10].iter().all(|c| c["usage"].is_null() && c.get("usage").is_some() && c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[10]["choices"], json!([]));
    assert_eq!(s.usage_only_chunks, 1);
    assert_eq!(s.meter.usage(), Some(usage(7, 0, 0, 8, 0)));
    assert_eq!(s.meter.model(), Some("gpt-4o-mini"));
    assert_eq!(s.meter.first_token_ms(), Some(1), "the first word follows the role chunk");
    assert!(!s.broken);
}

#[tokio::test]
async fn repeat_usage_puts_a_running_total_in_every_chunk() {
    let d = double().await;
    let mut req = chat_body();
    req["stream"] = json!(true);
    let resp = openai(&d, "/v1/chat/completions").header("x-mock-repeat-usage", "1").header("x-mock-output-tokens", "3").json(&req).send().await.unwrap();
    let s = Streamed::read(Endpoint::ChatCompletions, resp).await;
    let completions: Vec<u64> = s.json().iter().map(|c| c["usage"]["completion_tokens"].as_u64().unwrap()).collect();
    assert_eq!(completions, vec![0, 1, 2, 3, 3, 3], "role, 3 words, finish, usage-only");
    assert_eq!(s.meter.usage(), Some(usage(7, 0, 0, 3, 0)), "the last total, not the sum of 12");
}

#[tokio::test]
async fn responses_answer_with_items_and_usage_streamed_or_not() {
    let d = double().await;
    let req = json!({"model": "gpt-4.1", "instructions": "Be brief.", "input": [{"role": "user", "content": [{"type": "input_text", "text": "one two three"}]}]});
    let resp = openai(&d, "/v1/responses").header("x-mock-reasoning-tokens", "4").header("x-mock-cached-tokens", "1").json(&req).send().await.unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!((body["object"].as_str(), body["status"].as_str(), body["instructions"].as_str()), (Some("response"), Some("completed"), Some("Be brief.")));
    assert_eq!(body["output"][0]["type"], "reasoning");
    assert_eq!(body["output"][1]["content"][0], json!({"type": "output_text", "text": words(8), "annotations": [], "logprobs": []}));
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 5, "input_tokens_details": {"cached_tokens": 1, "cache_write_tokens": 0},
               "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 17})
    );
    assert_eq!(from_body(Endpoint::Responses, body.to_string().as_bytes()).unwrap().usage, Some(usage(5, 1, 0, 12, 4)));

    let mut req = req;
    req["stream"] = json!(true);
    let resp = openai(&d, "/v1/responses").header("x-mock-output-tokens", "2").json(&req).send().await.unwrap();
    let s = Streamed::read(Endpoint::Responses, resp).await;
    assert_eq!(
        s.names(),
        vec![
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
            "response.content_part.done", "response.output_item.done", "response.completed"
        ]
    );
    for (i, (event, data)) in s.events.iter().zip(s.json()).enumerate() {
        assert_eq!((data["type"].as_str(), data["sequence_number"].as_u64()), (Some(event.name()), Some(i as u64)));
    }
    assert!(s.events.iter().all(|e| e.data != "[DONE]"));
    assert_eq!(s.meter.usage(), Some(usage(5, 0, 0, 2, 0)));
    assert_eq!((s.meter.text(), s.meter.finished()), ("Tollbooth meters", true));
}

#[tokio::test]
async fn responses_cut_by_max_output_tokens_end_incomplete() {
    let d = double().await;
    let req = json!({"model": "gpt-4.1", "input": "one two three", "max_output_tokens": 3, "stream": true});
    let s = Streamed::read(Endpoint::Responses, openai(&d, "/v1/responses").json(&req).send().await.unwrap()).await;
    let last = s.json().pop().unwrap();
    assert_eq!((last["type"].as_str(), last["response"]["status"].as_str()), (Some("response.incomplete"), Some("incomplete")));
    assert_eq!(last["response"]["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(s.meter.usage(), Some(usage(3, 0, 0, 3, 0)));
    assert!(s.meter.finished());
}

#[tokio::test]
async fn embeddings_count_the_input_and_agree_as_floats_and_base64() {
    let d = double().await;
    let req = |format: &str| json!({"model": "text-embedding-3-small", "input": ["a b c", "d e"], "dimensions": 4, "encoding_format": format});
    let (_, _, floats) = json_of(openai(&d, "/v1/embeddings").json(&req("float")).send().await.unwrap()).await;
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["usage"], json!({"prompt_tokens": 5, "total_tokens": 5}));
    assert_eq!(floats["data"][0], json!({"object": "embedding", "index": 0, "embedding": [0.125, 0.25, 0.375, 0.5]}));
    assert_eq!(floats["data"][1]["embedding"], json!([0.25, 0.375, 0.5, 0.625]));
    let (_, _, b64) = json_of(openai(&d, "/v1/embeddings").json(&req("base64")).send().await.unwrap()).await;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64["data"][1]["embedding"].as_str().unwrap()).unwrap();
    let values: Vec<f32> = bytes.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(values, vec![0.25, 0.375, 0.5, 0.625]);
    assert_eq!(from_body(Endpoint::Embeddings, b64.to_string().as_bytes()).unwrap().usage, Some(usage(5, 0, 0, 0, 0)));
    let (status, _, err) = json_of(openai(&d, "/v1/embeddings").json(&json!({"model": "m", "input": []})).send().await.unwrap()).await;
    assert_eq!((status, err["error"]["param"].as_str()), (StatusCode::BAD_REQUEST, Some("input")));
}

#[tokio::test]
async fn models_are_listed_in_the_shape_of_the_provider_asking() {
    let d = double().await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/models", d.base_url());
    let (_, _, oa) = json_of(client.get(&url).bearer_auth(KEY).send().await.unwrap()).await;
    assert_eq!(oa["object"], "list");
    assert_eq!(oa["data"][0], json!({"id": "gpt-4o-mini", "object": "model", "created": 1_721_172_741, "owned_by": "system"}));
    let (_, _, an) = json_of(client.get(&url).header("x-api-key", KEY).header("anthropic-version", "2023-06-01").send().await.unwrap()).await;
    assert_eq!(an["data"][0]["type"], "model");
    assert_eq!(an["has_more"], false);
}

/// 2 system words + 5 user words; 2 read from the cache, 1 written.
fn messages_body() -> Value {
    json!({"model": "claude-sonnet-4-20250514", "max_tokens": 100, "system": "Be brief.",
           "messages": [{"role": "user", "content": "Say hello to the meter"}]})
}

#[tokio::test]
async fn messages_report_input_without_the_cache_counts_streamed_or_not() {
    let d = double().await;
    let cache = |r: reqwest::RequestBuilder| r.header("x-mock-cached-tokens", "2").header("x-mock-cache-write-tokens", "1");
    let (status, headers, body) = json_of(cache(anthropic(&d, "/v1/messages")).json(&messages_body()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers["request-id"].to_str().unwrap().starts_with("req_"));
    assert!(body["id"].as_str().unwrap().starts_with("msg_01"));
    assert_eq!((body["type"].as_str(), body["role"].as_str(), body["stop_reason"].as_str()), (Some("message"), Some("assistant"), Some("end_turn")));
    assert_eq!(body["content"], json!([{"type": "text", "text": words(8)}]));
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 4, "cache_creation_input_tokens": 1, "cache_read_input_tokens": 2, "output_tokens": 8, "service_tier": "standard",
               "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 0}})
    );
    assert_eq!(from_body(Endpoint::Messages, body.to_string().as_bytes()).unwrap().usage, Some(usage(7, 2, 1, 8, 0)));

    let mut req = messages_body();
    req["stream"] = json!(true);
    req["max_tokens"] = json!(3);
    let s = Streamed::read(Endpoint::Messages, cache(anthropic(&d, "/v1/messages")).json(&req).send().await.unwrap()).await;
    assert_eq!(
        s.names(),
        vec![
            "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta",
            "content_block_stop", "message_delta", "message_stop"
        ]
    );
    let events = s.json();
    assert_eq!(events[0]["message"]["usage"]["output_tokens"], 1);
    assert_eq!(events[7]["delta"]["stop_reason"], "max_tokens");
    assert_eq!(events[7]["usage"], json!({"output_tokens": 3}));
    assert_eq!(s.meter.usage(), Some(usage(7, 2, 1, 3, 0)), "3 output tokens, not 1 + 3");
    assert_eq!((s.meter.text(), s.meter.finished()), (words(3).as_str(), true));
}

#[tokio::test]
async fn ping_and_repeated_usage_switches_for_anthropic_streams() {
    let d = double().await;
    let mut req = messages_body();
    req["stream"] = json!(true);
    let resp = anthropic(&d, "/v1/messages").header("x-mock-ping", "1").header("x-mock-repeat-usage", "1").header("x-mock-output-tokens", "2").json(&req).send().await.unwrap();
    let s = Streamed::read(Endpoint::Messages, resp).await;
    assert_eq!(
        s.names(),
        vec![
            "message_start", "content_block_start", "ping", "content_block_delta", "ping", "message_delta", "content_block_delta",
            "ping", "message_delta", "content_block_stop", "message_delta", "message_stop"
        ]
    );
    let outputs: Vec<u64> = s.json().iter().filter(|e| e["type"] == "message_delta").map(|e| e["usage"]["output_tokens"].as_u64().unwrap()).collect();
    assert_eq!(outputs, vec![1, 2, 2]);
    assert_eq!(s.meter.usage(), Some(usage(7, 0, 0, 2, 0)));
}

#[tokio::test]
async fn error_event_switch_ends_each_stream_with_the_providers_error() {
    let d = double().await;
    let mut req = messages_body();
    req["stream"] = json!(true);
    let s = Streamed::read(Endpoint::Messages, anthropic(&d, "/v1/messages").header("x-mock-error-event", "1").json(&req).send().await.unwrap()).await;
    assert_eq!(s.names(), vec!["message_start", "content_block_start", "ping", "content_block_delta", "error"]);
    assert_eq!(s.json()[4], json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
    assert_eq!(s.meter.error().map(|e| e.kind.as_str()), Some("overloaded_error"));
    assert!(!s.meter.finished());
    assert_eq!(s.meter.usage(), Some(usage(7, 0, 0, 1, 0)), "only message_start's counts came");

    let mut req = chat_body();
    req["stream"] = json!(true);
    let resp = openai(&d, "/v1/chat/completions").header("x-mock-error-event", "server_error").json(&req).send().await.unwrap();
    let s = Streamed::read(Endpoint::ChatCompletions, resp).await;
    assert_eq!(s.events.len(), 3, "role chunk, first word, error");
    assert_eq!(s.meter.error().map(|e| e.kind.as_str()), Some("server_error"));
    assert!(!s.meter.finished());

    let resp = openai(&d, "/v1/responses").header("x-mock-error-event", "1").json(&json!({"model": "m", "input": "x", "stream": true})).send().await.unwrap();
    let s = Streamed::read(Endpoint::Responses, resp).await;
    assert_eq!(s.names().last(), Some(&"error"));
    assert_eq!(s.meter.error().map(|e| e.kind.as_str()), Some("server_error"));
    assert!(!s.meter.finished());
}

#[tokio::test]
async fn drop_after_closes_the_connection_mid_stream() {
    let d = double().await;
    let mut req = chat_body();
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let resp = openai(&d, "/v1/chat/completions").header("x-mock-drop-after", "3").json(&req).send().await.unwrap();
    let s = Streamed::read(Endpoint::ChatCompletions, resp).await;
    assert!(s.broken, "the transfer breaks instead of ending");
    assert_eq!(s.events.len(), 3);
    assert_eq!((s.meter.usage(), s.meter.finished(), s.meter.text()), (None, false, "Tollbooth meters"));
}

/// Sends a raw HTTP/1.1 request and returns the chunks of its chunked body.
async fn raw_chunks(d: &RunningLlmDouble, headers: &str, body: &Value) -> Vec<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let mut conn = tokio::net::TcpStream::connect(d.local_addr()).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    conn.read_to_end(&mut all).await.unwrap();
    let start = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&all[..start]).to_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let (mut rest, mut chunks) = (&all[start..], Vec::new());
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return chunks;
        }
        chunks.push(rest[line_end + 2..line_end + 2 + size].to_vec());
        rest = &rest[line_end + 2 + size + 2..];
    }
}

#[tokio::test]
async fn split_frames_writes_each_frame_in_four_pieces() {
    let d = double().await;
    let mut req = chat_body();
    req["stream"] = json!(true);
    let whole = raw_chunks(&d, "", &req).await;
    let split = raw_chunks(&d, "x-mock-split-frames: 1\r\n", &req).await;
    assert_eq!(whole.len(), 11, "one chunk per frame: role, 8 words, finish, [DONE]");
    assert_eq!(split.len(), 44);
    assert!(split.chunks(4).all(|piece| piece[0] == b"dat" && piece[3] == b"\n"));
    let mut parser = SseParser::new();
    let mut meter = StreamMeter::new(Endpoint::ChatCompletions);
    for piece in &split {
        for frame in parser.push(piece) {
            meter.observe(&frame.event.unwrap(), 0);
        }
    }
    assert_eq!((meter.text(), meter.finished()), (words(8).as_str(), true));
}

#[tokio::test]
async fn delays_hold_the_answer_and_each_frame() {
    let d = double().await;
    let mut req = chat_body();
    req["stream"] = json!(true);
    // A minute-long delay has certainly not passed after a quarter second.
    let held = openai(&d, "/v1/chat/completions").header("x-mock-delay-ms", "60000").json(&req).send();
    assert!(tokio::time::timeout(Duration::from_millis(250), held).await.is_err(), "no answer before the delay");
    let mut resp = openai(&d, "/v1/chat/completions").header("x-mock-chunk-delay-ms", "60000").json(&req).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "headers come at once");
    assert!(tokio::time::timeout(Duration::from_millis(250), resp.chunk()).await.is_err(), "no frame before its delay");
    // Figures, not assertions: 11 frames 20 ms apart.
    let started = Instant::now();
    let resp = openai(&d, "/v1/chat/completions").header("x-mock-chunk-delay-ms", "20").json(&req).send().await.unwrap();
    let s = Streamed::read(Endpoint::ChatCompletions, resp).await;
    println!("11 frames with x-mock-chunk-delay-ms 20 took {:?}", started.elapsed());
    assert!(s.meter.finished());
}

#[tokio::test]
async fn status_switch_answers_each_providers_error_with_retry_after() {
    let d = double().await;
    let resp = openai(&d, "/v1/chat/completions").header("x-mock-status", "429").header("x-mock-retry-after", "7").json(&chat_body()).send().await.unwrap();
    let (status, headers, body) = json_of(resp).await;
    assert_eq!((status, headers["retry-after"].to_str().unwrap()), (StatusCode::TOO_MANY_REQUESTS, "7"));
    assert_eq!((body["error"]["type"].as_str(), body["error"]["code"].as_str()), (Some("requests"), Some("rate_limit_exceeded")));

    let resp = anthropic(&d, "/v1/messages").header("x-mock-status", "529").json(&messages_body()).send().await.unwrap();
    let (status, headers, body) = json_of(resp).await;
    assert_eq!((status.as_u16(), headers["retry-after"].to_str().unwrap()), (529, "1"));
    assert_eq!((body["type"].as_str(), body["error"]["type"].as_str()), (Some("error"), Some("overloaded_error")));

    let resp = anthropic(&d, "/v1/messages").header("x-mock-status", "500").json(&messages_body()).send().await.unwrap();
    let (status, headers, body) = json_of(resp).await;
    assert_eq!((status, headers.get("retry-after"), body["error"]["type"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, None, Some("api_error")));
}

#[tokio::test]
async fn keys_are_required_and_refused_in_each_providers_format() {
    let d = double().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", d.base_url());
    let (status, _, body) = json_of(client.post(url("/v1/chat/completions")).json(&chat_body()).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["type"].as_str(), body["error"]["code"].clone()), (StatusCode::UNAUTHORIZED, Some("invalid_request_error"), Value::Null));
    let (status, _, body) = json_of(client.post(url("/v1/embeddings")).bearer_auth("sk-wrong-0000000000").json(&json!({})).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
    assert!(body["error"]["message"].as_str().unwrap().contains("sk-************0000"), "{body}");

    let anthropic_req = |key: Option<&str>| {
        let r = client.post(url("/v1/messages")).header("anthropic-version", "2023-06-01").json(&messages_body());
        match key {
            Some(k) => r.header("x-api-key", k),
            None => r,
        }
    };
    let (status, _, body) = json_of(anthropic_req(None).send().await.unwrap()).await;
    assert_eq!((status, body["type"].as_str(), body["error"]["type"].as_str()), (StatusCode::UNAUTHORIZED, Some("error"), Some("authentication_error")));
    assert_eq!(body["error"]["message"], "x-api-key header is required");
    let (_, _, body) = json_of(anthropic_req(Some("sk-wrong")).send().await.unwrap()).await;
    assert_eq!(body["error"]["message"], "invalid x-api-key");
    // Anthropic also takes the key as a Bearer token (its Python SDK 2.x
    // sends it so); OpenAI takes nothing else.
    let (status, _, _) = json_of(client.post(url("/v1/messages")).bearer_auth(KEY).header("anthropic-version", "2023-06-01").json(&messages_body()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = json_of(client.post(url("/v1/chat/completions")).header("x-api-key", KEY).json(&chat_body()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = json_of(client.post(url("/v1/messages")).header("x-api-key", KEY).json(&messages_body()).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["message"].as_str()), (StatusCode::BAD_REQUEST, Some("anthropic-version: header is required")));
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field() {
    let d = double().await;
    let (status, _, body) = json_of(openai(&d, "/v1/chat/completions").json(&json!({"model": "m"})).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["param"].as_str(), body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("messages"), Some("missing_required_parameter")));
    let mut req = messages_body();
    req.as_object_mut().unwrap().remove("max_tokens");
    let (status, _, body) = json_of(anthropic(&d, "/v1/messages").json(&req).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["message"].as_str()), (StatusCode::BAD_REQUEST, Some("max_tokens: Field required")));
    let (status, _, body) = json_of(openai(&d, "/v1/chat/completions").header("x-mock-status", "200").json(&chat_body()).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::BAD_REQUEST, Some("x-mock-status")));
    assert_eq!(body["error"]["message"], "x-mock-status: \"200\" is not a 4xx or 5xx status");
    let (status, _, body) = json_of(anthropic(&d, "/v1/messages").header("x-mock-pings", "1").json(&messages_body()).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["message"].as_str()), (StatusCode::BAD_REQUEST, Some("x-mock-pings: not a switch of the mock LLM")));
    let (status, _, body) = json_of(openai(&d, "/v1/completions").json(&json!({})).send().await.unwrap()).await;
    assert_eq!((status, body["error"]["message"].as_str()), (StatusCode::NOT_FOUND, Some("Invalid URL (POST /v1/completions)")));
}

#[tokio::test]
async fn count_tokens_counts_the_prompt() {
    let d = double().await;
    let req = json!({"model": "claude-sonnet-4-20250514", "system": "Be brief.", "messages": [{"role": "user", "content": "Say hello to the meter"}]});
    let (status, _, body) = json_of(anthropic(&d, "/v1/messages/count_tokens").json(&req).send().await.unwrap()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"input_tokens": 7})));
}

#[tokio::test]
async fn requests_are_recorded_and_defaults_change_at_run_time() {
    let d = double().await;
    d.set_switches(Switches { output_tokens: 2, cached_tokens: 1, ..Switches::default() });
    let (_, _, body) = json_of(openai(&d, "/v1/chat/completions").header("x-mock-output-tokens", "3").json(&chat_body()).send().await.unwrap()).await;
    assert_eq!((body["usage"]["completion_tokens"].as_u64(), body["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64()), (Some(3), Some(1)));
    let (_, _, body) = json_of(openai(&d, "/v1/chat/completions").json(&chat_body()).send().await.unwrap()).await;
    assert_eq!(body["usage"]["completion_tokens"], 2);
    let recorded = d.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!((recorded[0].method.as_str(), recorded[0].path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(recorded[0].header("x-mock-output-tokens"), Some("3"));
    assert_eq!(recorded[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(recorded[1].body, chat_body());
}

/// Kills the CLI's process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_cli_serves_with_its_flags_as_defaults() {
    use std::io::BufRead;
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_tollbooth"))
            .args(["mock-llm", "--port", "0", "--api-key", "sk-cli", "--output-tokens", "3", "--cached-tokens", "2"])
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    let resp = reqwest::Client::new().post(format!("{base}/v1/chat/completions")).bearer_auth("sk-cli").json(&chat_body()).send().await.unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(from_body(Endpoint::ChatCompletions, body.to_string().as_bytes()).unwrap().usage, Some(usage(7, 2, 0, 3, 0)));
}
