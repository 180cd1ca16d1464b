//! Gateway overhead: `tollbooth-bench --gateway [--rate 1000] [--seconds 10]`.
//!
//! Starts the LLM upstream double (in this process) and the real server
//! (the `tollbooth` binary next to this one, SQLite, the double as its
//! default upstreams), then sends the same open-loop load (half streamed
//! chat completions, half not) in three phases: straight to the double,
//! through the gateway, and, when `scripts/litellm-bench.sh` has installed
//! LiteLLM's proxy into `.venv-litellm`, through LiteLLM against the same
//! double. Prints each phase's latency (whole answer, and first byte for
//! streams) and the added p50/p99 over the direct phase, then counts the
//! gateway's recorded events: every answered call once, none lost, none
//! doubled.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tollbooth::db::Engine;
use tollbooth::pricing::{store as prices, PriceBook};
use tollbooth::testing::TestDb;
use tollbooth_server::llm_double::{self, DoubleConfig, Switches};

use super::pct;

const UPSTREAM_KEY: &str = "sk-bench-upstream";
const LITELLM_KEY: &str = "sk-litellm-bench";

/// One timed call: whole answer, first byte, and whether it streamed.
struct Timed {
    total: Duration,
    first_byte: Duration,
    stream: bool,
    ok: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client.get(url).send().await.is_ok_and(|r| r.status().as_u16() < 500) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not become ready");
}

/// Open loop: `rate` calls a second for `seconds`, each on its own task at
/// its scheduled time, alternating streamed and not.
async fn phase(client: &reqwest::Client, base: &str, key: &str, rate: usize, seconds: u64) -> Vec<Timed> {
    let total = rate * seconds as usize;
    let per_ms = (rate / 1000).max(1);
    let every = Duration::from_micros((1_000_000 / rate.max(1)) as u64 * per_ms as u64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total);
    let mut n = 0;
    while n < total {
        tick.tick().await;
        for _ in 0..per_ms {
            let stream = n % 2 == 1;
            let req = client
                .post(format!("{base}/chat/completions"))
                .bearer_auth(key)
                .header("Tollbooth-User", format!("bench-user-{}", n % 50))
                .json(&serde_json::json!({
                    "model": "gpt-4o-mini", "stream": stream, "max_tokens": 16,
                    "messages": [{"role": "user", "content": "Say hello to the meter"}],
                }));
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let Ok(mut resp) = req.send().await else {
                    return Timed { total: t.elapsed(), first_byte: t.elapsed(), stream, ok: false };
                };
                let ok = resp.status().is_success();
                let mut first_byte = None;
                while let Ok(Some(_)) = resp.chunk().await {
                    first_byte.get_or_insert_with(|| t.elapsed());
                }
                Timed { total: t.elapsed(), first_byte: first_byte.unwrap_or_else(|| t.elapsed()), stream, ok }
            }));
            n += 1;
        }
    }
    let mut out = Vec::with_capacity(total);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// p50 and p99 of each measure: (whole non-streamed, whole streamed, first byte streamed).
struct Figures {
    plain: (Duration, Duration),
    stream: (Duration, Duration),
    first_byte: (Duration, Duration),
    failed: usize,
}

fn figures(calls: &[Timed]) -> Figures {
    let pick = |f: &dyn Fn(&Timed) -> Option<Duration>| {
        let mut v: Vec<Duration> = calls.iter().filter_map(f).collect();
        v.sort();
        if v.is_empty() { (Duration::ZERO, Duration::ZERO) } else { (pct(&v, 0.5), pct(&v, 0.99)) }
    };
    Figures {
        plain: pick(&|c| (c.ok && !c.stream).then_some(c.total)),
        stream: pick(&|c| (c.ok && c.stream).then_some(c.total)),
        first_byte: pick(&|c| (c.ok && c.stream).then_some(c.first_byte)),
        failed: calls.iter().filter(|c| !c.ok).count(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn added(a: Duration, b: Duration) -> f64 {
    ms(a) - ms(b)
}

fn print_phase(name: &str, f: &Figures) {
    println!(
        "{name:<10} non-streamed p50 {:>7.3} ms p99 {:>7.3} ms | streamed p50 {:>7.3} ms p99 {:>7.3} ms | first byte p50 {:>7.3} ms p99 {:>7.3} ms | failed {}",
        ms(f.plain.0), ms(f.plain.1), ms(f.stream.0), ms(f.stream.1), ms(f.first_byte.0), ms(f.first_byte.1), f.failed
    );
}

fn print_added(name: &str, f: &Figures, direct: &Figures) -> f64 {
    let p99 = added(f.plain.1, direct.plain.1);
    println!(
        "{name:<10} added: non-streamed p50 {:+.3} ms p99 {:+.3} ms | streamed p50 {:+.3} ms p99 {:+.3} ms | first byte p50 {:+.3} ms p99 {:+.3} ms",
        added(f.plain.0, direct.plain.0), p99,
        added(f.stream.0, direct.stream.0), added(f.stream.1, direct.stream.1),
        added(f.first_byte.0, direct.first_byte.0), added(f.first_byte.1, direct.first_byte.1),
    );
    p99
}

/// LiteLLM's proxy from `.venv-litellm`, against the same double.
fn start_litellm(double_base: &str, port: u16) -> Option<Child> {
    let root = std::env::current_dir().ok()?;
    let bin = root.join(".venv-litellm/bin/litellm");
    if !bin.exists() {
        println!("LiteLLM: not installed (run scripts/litellm-bench.sh to compare)");
        return None;
    }
    let config = std::env::temp_dir().join(format!("litellm-bench-{port}.yaml"));
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_base: {double_base}/v1\n      api_key: {UPSTREAM_KEY}\ngeneral_settings:\n  master_key: {LITELLM_KEY}\nlitellm_settings:\n  drop_params: true\n"
        ),
    )
    .ok()?;
    Command::new(bin)
        .args(["--config", &config.display().to_string(), "--port", &port.to_string(), "--num_workers", "1"])
        .env("LITELLM_LOG", "ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

pub async fn run(rate: usize, seconds: u64, soak: usize) {
    let double = llm_double::spawn(DoubleConfig { api_key: UPSTREAM_KEY.into(), switches: Switches::default() }).await.unwrap();
    let db = TestDb::new(Engine::Sqlite).await.expect("database");
    let catalog: serde_json::Value = serde_json::from_str(tollbooth::pricing::DEFAULT_CATALOG_JSON).unwrap();
    let one = serde_json::json!({"gpt-4o-mini": catalog["gpt-4o-mini"].clone()});
    prices::import(&db.db, &PriceBook::parse_litellm(&one.to_string()).unwrap(), "bench", Some(0)).await.unwrap();
    let config = tollbooth_server::cli::Cli::parse_config_for(&db.url);
    let org = tollbooth_server::cli::create_org(&db.db, &config, "Gateway bench", "gateway-bench@example.com", None).await.unwrap();
    let admin = tollbooth::accounts::create_admin(&db.db, "bench-admin@example.com", Some("correct-horse-battery")).await.unwrap().user;
    for (metric, period, value) in [("requests", "day", "100000000"), ("requests", "minute", ""), ("tokens", "month", "100000000000"), ("tokens", "day", ""), ("tokens", "minute", "")] {
        let input = tollbooth::plans::LimitInput { metric: metric.into(), period: period.into(), value: value.into(), hard: true, overage_usd: String::new() };
        tollbooth::plans::set_override(&db.db, &admin, &org.org_id, &input, Default::default()).await.unwrap();
    }

    let port = free_port();
    let bin = std::env::current_exe().unwrap().with_file_name("tollbooth");
    let mut server = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TOLLBOOTH_SEED", "false")
        .env("TOLLBOOTH_SEED_DEMO_USAGE", "false")
        .env("RUST_LOG", "error")
        .env("TOLLBOOTH_OPENAI_BASE_URL", double.openai_base_url())
        .env("TOLLBOOTH_OPENAI_API_KEY", UPSTREAM_KEY)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the tollbooth binary (build it first: cargo build --release -p tollbooth-server --bins)");
    let gateway = format!("http://127.0.0.1:{port}/v1");
    wait_ready(&format!("http://127.0.0.1:{port}/readyz")).await;
    let litellm_port = free_port();
    let mut litellm = start_litellm(&double.base_url(), litellm_port);
    let client = reqwest::Client::builder().pool_max_idle_per_host(2048).tcp_nodelay(true).build().unwrap();

    println!("gateway bench: {rate} calls/s for {seconds} s per phase, half streamed (SQLite, release build)");
    // Warm-up: connections, tokenizers, the org's ledger and price cache.
    phase(&client, &double.openai_base_url(), UPSTREAM_KEY, 200.min(rate), 1).await;
    phase(&client, &gateway, &org.api_key, 200.min(rate), 1).await;
    let warm_calls = 2 * 200.min(rate);

    let direct = figures(&phase(&client, &double.openai_base_url(), UPSTREAM_KEY, rate, seconds).await);
    print_phase("direct", &direct);
    let through = phase(&client, &gateway, &org.api_key, rate, seconds).await;
    let answered = through.iter().filter(|c| c.ok).count();
    let ours = figures(&through);
    print_phase("tollbooth", &ours);
    let our_p99 = print_added("tollbooth", &ours, &direct);
    let rss = || super::analytics::rss_mb(server.id()).0;
    println!("server RSS after the tollbooth phase: {:.0} MB", rss());
    // --soak N: N more phases through the gateway, RSS after each (growth
    // would show as a rising line).
    let mut soaked = 0;
    for i in 1..=soak {
        let calls = phase(&client, &gateway, &org.api_key, rate, seconds).await;
        soaked += calls.iter().filter(|c| c.ok).count();
        println!("soak {i}/{soak}: {} of {} calls answered, server RSS {:.0} MB", calls.iter().filter(|c| c.ok).count(), calls.len(), rss());
    }

    if let Some(child) = &mut litellm {
        let base = format!("http://127.0.0.1:{litellm_port}");
        wait_ready(&format!("{base}/health/liveliness")).await;
        phase(&client, &format!("{base}/v1"), LITELLM_KEY, 200.min(rate), 1).await;
        let theirs = figures(&phase(&client, &format!("{base}/v1"), LITELLM_KEY, rate, seconds).await);
        print_phase("litellm", &theirs);
        let their_p99 = print_added("litellm", &theirs, &direct);
        println!("litellm's added p99 / tollbooth's: {:.1}×", their_p99 / our_p99.max(0.001));
        let _ = child.kill();
        let _ = child.wait();
    }

    // Every answered call recorded once (streams record after their end).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (events, distinct): (i64, i64) = sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT id) FROM usage_events WHERE org_id = $1")
        .bind(&org.org_id)
        .fetch_one(db.db.reader())
        .await
        .unwrap();
    let expected = answered + soaked + warm_calls / 2;
    println!(
        "recorded events: {events} for {expected} answered gateway calls (warm-up included): {} lost, {} doubled",
        expected as i64 - distinct,
        events - distinct
    );
    let _ = server.kill();
    let _ = server.wait();
}
