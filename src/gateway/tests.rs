//! Wire samples from the providers' documentation, fed through the parser
//! and the meter split at every byte offset, as a gateway would see them.

use super::*;
use crate::pricing::Usage;

fn usage(input: u64, cached: u64, written: u64, output: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        cached_input_tokens: cached,
        cache_creation_tokens: written,
        output_tokens: output,
        reasoning_tokens: reasoning,
        ..Usage::default()
    }
}

/// A stream as the gateway would see it.
struct Seen {
    meter: StreamMeter,
    /// The bytes a client that did not ask for usage receives (the
    /// usage-only chunk removed).
    without_usage_chunk: Vec<u8>,
    usage_only_chunks: usize,
}

/// Meters `wire` arriving in two reads split at `at`. The n-th event is
/// observed at 100 + 10·n ms.
fn meter_split(endpoint: Endpoint, wire: &[u8], at: usize) -> Seen {
    let mut parser = SseParser::new();
    let mut meter = StreamMeter::new(endpoint);
    let mut frames = parser.push(&wire[..at]);
    frames.extend(parser.push(&wire[at..]));
    frames.extend(parser.finish());
    let (mut without_usage_chunk, mut usage_only_chunks, mut n) = (Vec::new(), 0, 0);
    for frame in frames {
        let observed = match &frame.event {
            Some(event) => {
                n += 1;
                meter.observe(event, 100 + 10 * (n - 1))
            }
            None => Observed::Other,
        };
        if observed == Observed::UsageOnlyChunk {
            usage_only_chunks += 1;
        } else {
            without_usage_chunk.extend_from_slice(&frame.raw);
        }
    }
    Seen { meter, without_usage_chunk, usage_only_chunks }
}

/// Runs `check` on the stream split at every offset.
fn at_every_split(endpoint: Endpoint, wire: &str, check: impl Fn(&Seen)) {
    for at in 0..=wire.len() {
        check(&meter_split(endpoint, wire.as_bytes(), at));
    }
}

/// Joins frames' JSON into a `data:`-only stream (OpenAI chat framing).
fn chat_wire(chunks: &[&str]) -> String {
    chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
}

const CHAT_HEAD: &str = r#""id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"o3-mini-2025-01-31","service_tier":"default","system_fingerprint":"fp_fc9f1d7035""#;

fn chat_chunk(delta: &str, finish: &str, usage: &str) -> String {
    format!(r#"{{{CHAT_HEAD},"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}],"usage":{usage}}}"#)
}

fn chat_stream_with_usage() -> (String, String) {
    let usage_chunk = format!(
        r#"{{{CHAT_HEAD},"choices":[],"usage":{{"prompt_tokens":1117,"completion_tokens":546,"total_tokens":1663,"prompt_tokens_details":{{"cached_tokens":1024,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":320,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}}}"#
    );
    let before = [
        chat_chunk(r#"{"role":"assistant","content":"","refusal":null}"#, "null", "null"),
        chat_chunk(r#"{"content":"Hello"}"#, "null", "null"),
        chat_chunk(r#"{"content":" there"}"#, "null", "null"),
        chat_chunk("{}", r#""stop""#, "null"),
    ];
    let before: Vec<&str> = before.iter().map(String::as_str).collect();
    let client = chat_wire(&before) + "data: [DONE]\n\n";
    let full = chat_wire(&before) + &chat_wire(&[&usage_chunk]) + "data: [DONE]\n\n";
    (full, client)
}

#[test]
fn openai_chat_usage_comes_in_a_usage_only_chunk_before_done() {
    let (wire, client) = chat_stream_with_usage();
    at_every_split(Endpoint::ChatCompletions, &wire, |seen| {
        let m = &seen.meter;
        assert_eq!(m.usage(), Some(usage(1117, 1024, 0, 546, 320)));
        assert_eq!(m.model(), Some("o3-mini-2025-01-31"));
        assert_eq!(m.text(), "Hello there");
        assert!(m.finished());
        assert_eq!(m.error(), None);
        assert_eq!(m.first_token_ms(), Some(110), "the role chunk carries no content; the second event does");
        assert_eq!(seen.usage_only_chunks, 1);
        assert_eq!(String::from_utf8_lossy(&seen.without_usage_chunk), client, "only the usage chunk is removed");
    });
}

#[test]
fn openai_chat_with_crlf_line_endings_meters_the_same() {
    let (wire, _) = chat_stream_with_usage();
    at_every_split(Endpoint::ChatCompletions, &wire.replace('\n', "\r\n"), |seen| {
        assert_eq!(seen.meter.usage(), Some(usage(1117, 1024, 0, 546, 320)));
        assert_eq!(seen.meter.text(), "Hello there");
        assert!(seen.meter.finished());
    });
}

#[test]
fn openai_compatible_usage_repeated_in_every_chunk_counts_once() {
    let u = |n: u64| format!(r#"{{"prompt_tokens":10,"completion_tokens":{n},"total_tokens":{}}}"#, 10 + n);
    let chunks = [
        chat_chunk(r#"{"role":"assistant","content":""}"#, "null", &u(0)),
        chat_chunk(r#"{"content":"a"}"#, "null", &u(1)),
        chat_chunk(r#"{"content":" b"}"#, "null", &u(2)),
        chat_chunk(r#"{"content":" c"}"#, r#""stop""#, &u(3)),
        format!(r#"{{{CHAT_HEAD},"choices":[],"usage":{}}}"#, u(3)),
    ];
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let wire = chat_wire(&chunks) + "data: [DONE]\n\n";
    at_every_split(Endpoint::ChatCompletions, &wire, |seen| {
        assert_eq!(seen.meter.usage(), Some(usage(10, 0, 0, 3, 0)), "the last report, not a sum");
        assert_eq!(seen.usage_only_chunks, 1);
    });
    // Without the final usage-only chunk the last chunk's total counts.
    let wire = chat_wire(&chunks[..4]) + "data: [DONE]\n\n";
    at_every_split(Endpoint::ChatCompletions, &wire, |seen| {
        assert_eq!(seen.meter.usage(), Some(usage(10, 0, 0, 3, 0)));
        assert_eq!(seen.usage_only_chunks, 0);
    });
}

#[test]
fn openai_chat_broken_before_usage_keeps_the_text_for_an_estimate() {
    let chunks = [
        chat_chunk(r#"{"role":"assistant","content":""}"#, "null", "null"),
        chat_chunk(r#"{"content":"Partial"}"#, "null", "null"),
        chat_chunk(r#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}]}"#, "null", "null"),
    ];
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    // The connection broke mid-frame: the last frame has no blank line.
    let wire = chat_wire(&chunks) + r#"data: {"id":"chatcmpl-B9"#;
    at_every_split(Endpoint::ChatCompletions, &wire, |seen| {
        assert_eq!(seen.meter.usage(), None);
        assert!(!seen.meter.finished());
        assert_eq!(seen.meter.text(), "Partialget_weather{\"ci");
        assert_eq!(seen.meter.model(), Some("o3-mini-2025-01-31"));
    });
}

#[test]
fn openai_chat_error_chunk_is_kept() {
    let wire = chat_wire(&[
        &chat_chunk(r#"{"role":"assistant","content":"Hi"}"#, "null", "null"),
        r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#,
    ]);
    at_every_split(Endpoint::ChatCompletions, &wire, |seen| {
        let e = seen.meter.error().expect("the error chunk");
        assert_eq!((e.kind.as_str(), e.message.as_str()), ("server_error", "The server had an error while processing your request. Sorry about that!"));
        assert!(!seen.meter.finished());
    });
}

/// A Responses stream (event names as documented; `sequence_number`s
/// included) ending with `terminal`, whose `response` carries `usage`.
fn responses_wire(terminal: &str, status: &str, usage: &str) -> String {
    let response = |status: &str, usage: &str| {
        format!(
            r#"{{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"{status}","error":null,"incomplete_details":null,"model":"gpt-4.1-2025-04-14","output":[],"usage":{usage}}}"#
        )
    };
    let events = [
        ("response.created", format!(r#"{{"type":"response.created","sequence_number":0,"response":{}}}"#, response("in_progress", "null"))),
        ("response.in_progress", format!(r#"{{"type":"response.in_progress","sequence_number":1,"response":{}}}"#, response("in_progress", "null"))),
        ("response.output_item.added", r#"{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"in_progress","role":"assistant","content":[]}}"#.to_string()),
        ("response.content_part.added", r#"{"type":"response.content_part.added","sequence_number":3,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}"#.to_string()),
        ("response.output_text.delta", r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}"#.to_string()),
        ("response.output_text.delta", r#"{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":" there","logprobs":[]}"#.to_string()),
        ("response.output_text.done", r#"{"type":"response.output_text.done","sequence_number":6,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"text":"Hi there","logprobs":[]}"#.to_string()),
        (terminal, format!(r#"{{"type":"{terminal}","sequence_number":7,"response":{}}}"#, response(status, usage))),
    ];
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}

const RESPONSES_USAGE: &str = r#"{"input_tokens":37,"input_tokens_details":{"cached_tokens":16,"cache_write_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":48}"#;

#[test]
fn openai_responses_usage_comes_in_response_completed() {
    let wire = responses_wire("response.completed", "completed", RESPONSES_USAGE);
    assert!(!wire.contains("[DONE]"));
    at_every_split(Endpoint::Responses, &wire, |seen| {
        let m = &seen.meter;
        assert_eq!(m.usage(), Some(usage(37, 16, 0, 11, 4)));
        assert_eq!(m.model(), Some("gpt-4.1-2025-04-14"));
        assert_eq!(m.text(), "Hi there", "deltas only; the .done event repeats the text");
        assert!(m.finished());
        assert_eq!(m.first_token_ms(), Some(140));
        assert_eq!(seen.usage_only_chunks, 0);
    });
}

#[test]
fn openai_responses_incomplete_also_ends_with_usage() {
    let wire = responses_wire("response.incomplete", "incomplete", RESPONSES_USAGE);
    at_every_split(Endpoint::Responses, &wire, |seen| {
        assert_eq!(seen.meter.usage(), Some(usage(37, 16, 0, 11, 4)));
        assert!(seen.meter.finished());
        assert_eq!(seen.meter.error(), None);
    });
}

#[test]
fn openai_responses_error_event_and_failed_response() {
    let mut wire = responses_wire("response.completed", "completed", RESPONSES_USAGE);
    wire.truncate(wire.find("event: response.completed").unwrap());
    wire += "event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\",\"message\":\"Something went wrong\",\"param\":null,\"sequence_number\":7}\n\n";
    at_every_split(Endpoint::Responses, &wire, |seen| {
        assert_eq!(seen.meter.error(), Some(&UpstreamError { kind: "ERR_SOMETHING".into(), message: "Something went wrong".into() }));
        assert!(!seen.meter.finished());
        assert_eq!(seen.meter.usage(), None);
        assert_eq!(seen.meter.text(), "Hi there");
    });
    let failed = r#"event: response.failed
data: {"type":"response.failed","sequence_number":1,"response":{"id":"resp_1","object":"response","status":"failed","model":"gpt-4.1","error":{"code":"server_error","message":"The model failed to generate a response."},"usage":null}}

"#;
    at_every_split(Endpoint::Responses, failed, |seen| {
        assert_eq!(seen.meter.error().map(|e| e.kind.as_str()), Some("server_error"));
        assert!(seen.meter.finished(), "a terminal event, even a failed one");
    });
}

#[test]
fn openai_responses_web_searches_count_from_their_items_even_when_the_stream_is_cut() {
    let search = |seq: u32, id: &str, status: &str| {
        let kind = if status == "completed" { "response.output_item.done" } else { "response.output_item.added" };
        format!(
            "event: {kind}\ndata: {{\"type\":\"{kind}\",\"sequence_number\":{seq},\"output_index\":0,\"item\":{{\"type\":\"web_search_call\",\"id\":\"{id}\",\"status\":\"{status}\",\"action\":{{\"type\":\"search\",\"query\":\"tollbooth\"}}}}}}\n\n"
        )
    };
    let searches = [search(2, "ws_1", "in_progress"), search(3, "ws_1", "completed"), search(4, "ws_2", "in_progress"), search(5, "ws_2", "completed")].concat();
    let items = r#"[{"type":"web_search_call","id":"ws_1","status":"completed"},{"type":"web_search_call","id":"ws_2","status":"completed"},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[]}]"#;
    let whole = responses_wire("response.completed", "completed", RESPONSES_USAGE);
    let at_terminal = whole.find("event: response.completed").unwrap();
    let wire = format!("{}{searches}{}", &whole[..at_terminal], whole[at_terminal..].replacen(r#""output":[]"#, &format!(r#""output":{items}"#), 1));
    at_every_split(Endpoint::Responses, &wire, |seen| {
        assert_eq!(seen.meter.usage(), Some(Usage { queries: 2, ..usage(37, 16, 0, 11, 4) }), "two searches, counted once");
    });
    let cut = format!("{}{}", &whole[..at_terminal], search(2, "ws_1", "completed"));
    at_every_split(Endpoint::Responses, &cut, |seen| {
        assert!(!seen.meter.finished());
        assert_eq!(seen.meter.usage(), Some(Usage { queries: 1, ..Usage::default() }), "the search that finished before the cut");
    });
}

const ANTHROPIC_HEAD: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

"#;

const ANTHROPIC_TAIL: &str = r#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

"#;

#[test]
fn anthropic_output_count_in_message_delta_replaces_the_initial_one() {
    let wire = format!("{ANTHROPIC_HEAD}{ANTHROPIC_TAIL}");
    at_every_split(Endpoint::Messages, &wire, |seen| {
        let m = &seen.meter;
        // 25 uncached + 100 written + 2000 read; 15 output tokens, not 1 + 15.
        assert_eq!(m.usage(), Some(usage(2125, 2000, 100, 15, 0)));
        assert_eq!(m.model(), Some("claude-sonnet-4-20250514"));
        assert_eq!(m.text(), "Hello!");
        assert!(m.finished());
        assert_eq!(m.error(), None);
        assert_eq!(m.first_token_ms(), Some(130), "after message_start, the empty block start and the ping");
    });
}

#[test]
fn anthropic_one_hour_cache_writes_searches_and_tier_come_through_the_stream() {
    let head = ANTHROPIC_HEAD.replace(
        r#""cache_read_input_tokens":2000,"output_tokens":1}"#,
        r#""cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":40,"ephemeral_1h_input_tokens":60},"output_tokens":1,"service_tier":"priority"}"#,
    );
    let tail = ANTHROPIC_TAIL.replace(r#""usage":{"output_tokens":15}"#, r#""usage":{"output_tokens":15,"server_tool_use":{"web_search_requests":2}}"#);
    at_every_split(Endpoint::Messages, &format!("{head}{tail}"), |seen| {
        let u = seen.meter.usage().unwrap();
        assert_eq!((u.input_tokens, u.cache_creation_tokens, u.cache_creation_1h_tokens, u.output_tokens), (2125, 100, 60, 15));
        assert_eq!(u.queries, 2, "the delta's search count");
        assert_eq!(seen.meter.service_tier(), Some(crate::pricing::ServiceTier::Priority), "message_start's tier is kept");
    });
}

#[test]
fn openai_chat_chunks_name_the_tier_that_served_the_call() {
    let (wire, _) = chat_stream_with_usage();
    let flex = wire.replace(r#""service_tier":"default""#, r#""service_tier":"flex""#);
    at_every_split(Endpoint::ChatCompletions, &flex, |seen| {
        assert_eq!(seen.meter.service_tier(), Some(crate::pricing::ServiceTier::Flex));
    });
}

#[test]
fn anthropic_cumulative_deltas_are_never_added() {
    let tail = ANTHROPIC_TAIL.replace(
        "event: message_delta\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null,\"stop_sequence\":null},\"usage\":{\"output_tokens\":5}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\nevent: message_delta\n",
    );
    at_every_split(Endpoint::Messages, &format!("{ANTHROPIC_HEAD}{tail}"), |seen| {
        assert_eq!(seen.meter.usage(), Some(usage(2125, 2000, 100, 15, 0)));
    });
}

#[test]
fn anthropic_error_event_mid_stream_keeps_the_start_counts_and_text() {
    let wire = format!(
        "{ANTHROPIC_HEAD}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\n\n"
    );
    at_every_split(Endpoint::Messages, &wire, |seen| {
        let m = &seen.meter;
        assert_eq!(m.error(), Some(&UpstreamError { kind: "overloaded_error".into(), message: "Overloaded".into() }));
        assert!(!m.finished());
        assert_eq!(m.usage(), Some(usage(2125, 2000, 100, 1, 0)), "exact prompt counts; the initial output count");
        assert_eq!(m.text(), "Hello");
    });
}

#[test]
fn anthropic_thinking_and_tool_input_count_as_content() {
    let wire = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-opus-4-1","usage":{"input_tokens":10,"output_tokens":2}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Paris\"}"}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89,"output_tokens_details":{"thinking_tokens":60}}}

event: message_stop
data: {"type":"message_stop"}
"#;
    at_every_split(Endpoint::Messages, wire, |seen| {
        assert_eq!(seen.meter.text(), "Let me think{\"city\": \"Paris\"}");
        assert_eq!(seen.meter.usage(), Some(usage(10, 0, 0, 89, 60)));
        assert!(seen.meter.finished(), "the last frame has no blank line, and still counts");
    });
}

#[test]
fn embeddings_never_stream() {
    let mut meter = StreamMeter::new(Endpoint::Embeddings);
    let e = SseEvent { data: r#"{"usage":{"prompt_tokens":3}}"#.into(), ..SseEvent::default() };
    assert_eq!(meter.observe(&e, 0), Observed::Other);
    assert_eq!(meter.usage(), None);
}
