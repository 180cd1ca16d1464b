//! Ingest benchmark: `cargo run --release -p tollbooth-server --bin tollbooth-bench`.
//! Quota benchmark: `... --bin tollbooth-bench -- --quota [--rate 5000] [--seconds 10] [--processes 2]`.
//! Gateway overhead: `... -- --gateway [--rate 1000] [--seconds 10]` (see `bench_gateway.rs`).
//! Analytics at volume: `... -- --seed-analytics [--events 10000000] [--runs 20]
//! [--database-url URL]` (see `bench_analytics.rs`).
//!
//! For each engine it starts the real server (the `tollbooth` binary next to
//! this one) as a separate process on a fresh database, sends batches of
//! events over loopback from this process, and reports events/s and the
//! p50/p99 ack latency. As the ceiling it then inserts the same rows into a
//! fresh database of the same engine with plain multi-row INSERTs, one
//! transaction per batch, and prints the ratio.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollbooth::db::Engine;
use tollbooth::pricing::{store as prices, ModelPrice, PriceBook, UnitPrice};
use tollbooth::testing::TestDb;

#[path = "bench_analytics.rs"]
mod analytics;
#[path = "bench_gateway.rs"]
mod gateway;

struct Args {
    quota: bool,
    gateway: bool,
    seed_analytics: bool,
    /// Resident memory at rest over many organizations.
    idle: bool,
    runs: usize,
    database_url: Option<String>,
    small_orgs: usize,
    /// Events of the ingest bench get random past timestamps (13 months).
    backfill: bool,
    /// Keep the seeded analytics database (its URL is printed).
    keep: bool,
    rate: usize,
    seconds: u64,
    /// Gateway bench: phases of load after the measured one, RSS after each.
    soak: usize,
    /// Quota bench: worker processes sharing the database.
    processes: usize,
    /// Set for a quota worker: the organization to load.
    org: Option<String>,
    engines: Vec<Engine>,
    events: usize,
    batch: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        quota: false,
        gateway: false,
        seed_analytics: false,
        idle: false,
        runs: 20,
        database_url: None,
        small_orgs: 999,
        backfill: false,
        keep: false,
        rate: 5000,
        seconds: 10,
        processes: 1,
        org: None,
        soak: 0,
        engines: vec![Engine::Sqlite, Engine::Postgres],
        events: 100_000,
        batch: 1000,
        concurrency: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--quota" => {
                a.quota = true;
                continue;
            }
            "--quota-worker" => continue,
            "--gateway" => {
                a.gateway = true;
                a.rate = 1000;
                continue;
            }
            "--idle" => {
                a.idle = true;
                continue;
            }
            "--seed-analytics" => {
                a.seed_analytics = true;
                a.events = 10_000_000;
                continue;
            }
            "--backfill" => {
                a.backfill = true;
                continue;
            }
            "--keep" => {
                a.keep = true;
                continue;
            }
            _ => {}
        }
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--rate" => a.rate = v.parse().expect("--rate N"),
            "--processes" => a.processes = v.parse().expect("--processes N"),
            "--soak" => a.soak = v.parse().expect("--soak N"),
            "--org" => a.org = Some(v),
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--engine" => {
                a.engines = match v.as_str() {
                    "sqlite" => vec![Engine::Sqlite],
                    "postgres" => vec![Engine::Postgres],
                    _ => vec![Engine::Sqlite, Engine::Postgres],
                }
            }
            "--events" => a.events = v.parse().expect("--events N"),
            "--batch" => a.batch = v.parse().expect("--batch N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            "--runs" => a.runs = v.parse().expect("--runs N"),
            "--database-url" => a.database_url = Some(v),
            "--small-orgs" => a.small_orgs = v.parse().expect("--small-orgs N"),
            _ => panic!(
                "usage: tollbooth-bench [--engine sqlite|postgres|both] [--events N] [--batch N] [--concurrency N] [--backfill]\n\
                 \x20      tollbooth-bench --quota [--rate N] [--seconds N] [--engine E] [--processes N]\n\
                 \x20      tollbooth-bench --gateway [--rate N] [--seconds N] [--soak N]\n\
                 \x20      tollbooth-bench --idle [--small-orgs N] [--engine E]\n\
                 \x20      tollbooth-bench --seed-analytics [--events N] [--runs N] [--small-orgs N] [--engine E] [--keep] [--database-url URL]"
            ),
        }
    }
    a
}

/// The ingest bench's batches. With `backfill`, timestamps are drawn at
/// random over the past 13 months (late and replayed data), else "now".
fn bodies(events: usize, batch: usize, backfill: bool) -> Vec<String> {
    let now = tollbooth::clock::now_ms();
    let mut seed = 0x5EED_u64;
    let mut past = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        now - (seed % (395 * 86_400_000)) as i64
    };
    (0..events.div_ceil(batch))
        .map(|b| {
            let evs: Vec<String> = (0..batch.min(events - b * batch))
                .map(|i| {
                    let ts = if backfill { format!(r#""timestamp":"{}","#, tollbooth::clock::to_rfc3339(past())) } else { String::new() };
                    format!(
                        r#"{{{ts}"id":"bench-{b:06}-{i:04}","model":"bench-model","user_id":"user-{}","session_id":"session-{b}-{}","feature":"chat","input_tokens":{},"cached_input_tokens":100,"output_tokens":{},"latency_ms":{}}}"#,
                        i % 50,
                        i % 20,
                        500 + i,
                        100 + i % 300,
                        100 + i % 900
                    )
                })
                .collect();
            format!(r#"{{"events":[{}]}}"#, evs.join(","))
        })
        .collect()
}

async fn prepare(engine: Engine) -> (TestDb, String) {
    let db = TestDb::new(engine).await.expect("database");
    let mut p = ModelPrice::new("bench-model", "openai");
    p.input = Some(UnitPrice::parse("0.0000025").unwrap());
    p.output = Some(UnitPrice::parse("0.00001").unwrap());
    p.cache_read = Some(UnitPrice::parse("0.00000125").unwrap());
    let mut book = PriceBook::default();
    book.insert(p);
    prices::import(&db.db, &book, "bench", Some(0)).await.unwrap();
    let config = tollbooth_server::cli::Cli::parse_config_for(&db.url);
    let org = tollbooth_server::cli::create_org(&db.db, &config, "Bench", "bench@example.com", None).await.unwrap();
    (db, org.api_key)
}

fn start_server(url: &str) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bin = std::env::current_exe().unwrap().with_file_name("tollbooth");
    let child = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TOLLBOOTH_SEED", "false")
        .env("TOLLBOOTH_SEED_DEMO_USAGE", "false")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the tollbooth binary (build it first: cargo build --release -p tollbooth-server)");
    (child, port)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn load(port: u16, key: &str, bodies: Arc<Vec<String>>, concurrency: usize) -> (Duration, Vec<Duration>) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/events");
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, key, bodies, next) = (client.clone(), url.clone(), key.to_string(), bodies.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = vec![];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    let resp = client
                        .post(&url)
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(resp.status(), 200, "batch {i}: {}", resp.text().await.unwrap_or_default());
                    resp.bytes().await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (start.elapsed(), all)
}

/// The same rows through plain multi-row INSERTs (200 rows per statement,
/// as the ingest path uses), one transaction per batch: no HTTP, no JSON, no
/// pricing, no rollups. What the engine itself can take.
async fn ceiling(engine: Engine, events: usize, batch: usize) -> Duration {
    const CHUNK: usize = 200;
    let (db, _) = prepare(engine).await;
    let org: String = sqlx::query_scalar("SELECT id FROM organizations").fetch_one(db.db.reader()).await.unwrap();
    let start = Instant::now();
    for b in 0..events.div_ceil(batch) {
        let n = batch.min(events - b * batch);
        let mut tx = db.db.begin().await.unwrap();
        for from in (0..n).step_by(CHUNK) {
            let rows = CHUNK.min(n - from);
            let sql = format!(
                "INSERT INTO usage_events (org_id, id, ts, received_at, api_key_id, user_id, project_id, session_id, \
                 feature, provider, model, input_tokens, cached_input_tokens, cache_creation_tokens, output_tokens, \
                 reasoning_tokens, images, duration_ms, requests, latency_ms, status, error, ip, user_agent, metadata, \
                 cost_nano, price_id) VALUES {}",
                tollbooth::db::values_rows(engine, rows, 27)
            );
            let now = tollbooth::clock::now_ms();
            let mut q = sqlx::query(&sql);
            for i in from..from + rows {
                q = q
                    .bind(&org)
                    .bind(format!("bench-{b:06}-{i:04}"))
                    .bind(now)
                    .bind(now)
                    .bind(None::<String>)
                    .bind(format!("user-{}", i % 50))
                    .bind(None::<String>)
                    .bind(format!("session-{b}-{}", i % 20))
                    .bind("chat")
                    .bind(None::<String>)
                    .bind("bench-model")
                    .bind(500 + i as i64)
                    .bind(100_i64)
                    .bind(0_i64)
                    .bind(100 + (i % 300) as i64)
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind(0_i64)
                    .bind(1_i64)
                    .bind(100 + (i % 900) as i64)
                    .bind("success")
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(12_345_i64)
                    .bind(None::<String>);
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    start.elapsed()
}

/// Check and reserve latency inside the server: an open-loop load of `rate`
/// calls per second (half checks, half reservations of 1 request and 100
/// tokens, each released after it is granted as a client would) straight to
/// the core services the handlers call, timing each call. With
/// `processes` > 1 the load is split between that many worker processes
/// (this binary with `--quota-worker`) on one database, as several servers
/// would share it.
async fn quota_bench(engine: Engine, rate: usize, seconds: u64, processes: usize) {
    let (db, _) = prepare(engine).await;
    let org: String = sqlx::query_scalar("SELECT id FROM organizations").fetch_one(db.db.reader()).await.unwrap();
    // Plenty of room: every call is decided, none refused by the limits themselves.
    let admin = tollbooth::accounts::create_admin(&db.db, "bench-admin@example.com", Some("correct-horse-battery")).await.unwrap().user;
    for (metric, period, value) in [("requests", "day", "100000000"), ("tokens", "month", "100000000000"), ("tokens", "minute", "")] {
        let input = tollbooth::plans::LimitInput { metric: metric.into(), period: period.into(), value: value.into(), hard: true, overage_usd: String::new() };
        tollbooth::plans::set_override(&db.db, &admin, &org, &input, Default::default()).await.unwrap();
    }
    let (mut checks, mut reserves, elapsed) = if processes <= 1 {
        quota_load(&db.db, &org, rate, seconds).await
    } else {
        let exe = std::env::current_exe().unwrap();
        let workers: Vec<Child> = (0..processes)
            .map(|_| {
                Command::new(&exe)
                    .args(["--quota-worker", "--database-url", &db.url, "--org", &org])
                    .args(["--rate", &(rate / processes).to_string(), "--seconds", &seconds.to_string()])
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("start a worker")
            })
            .collect();
        let (mut checks, mut reserves, mut took) = (vec![], vec![], Duration::ZERO);
        for w in workers {
            let out = w.wait_with_output().expect("worker");
            assert!(out.status.success(), "a worker failed");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let (kind, us) = line.split_once(' ').unwrap_or_default();
                let v: Vec<Duration> = us.split(' ').filter_map(|t| t.parse().ok()).map(Duration::from_micros).collect();
                match kind {
                    "checks" => checks.extend(v),
                    "reserves" => reserves.extend(v),
                    // The workers' loads overlap: the longest is the run's time.
                    "took" => took = took.max(v.iter().copied().max().unwrap_or_default()),
                    _ => {}
                }
            }
        }
        (checks, reserves, took)
    };
    checks.sort();
    reserves.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let total = checks.len() + reserves.len();
    println!(
        "{:<9} quota at {:.0} calls/s ({} process{}): check p50 {:.3} ms p99 {:.3} ms | reserve p50 {:.3} ms p99 {:.3} ms max {:.1} ms",
        engine.name(),
        total as f64 / elapsed.as_secs_f64(),
        processes.max(1),
        if processes > 1 { "es" } else { "" },
        ms(pct(&checks, 0.5)),
        ms(pct(&checks, 0.99)),
        ms(pct(&reserves, 0.5)),
        ms(pct(&reserves, 0.99)),
        ms(*reserves.last().unwrap()),
    );
    db.db.close().await;
}

/// One process's share of the quota bench: its checks' and reservations'
/// latencies.
/// Returns the checks' and reservations' latencies and how long the load
/// took from its first call to the end of its last (the achieved rate's
/// time: a worker process's start and connection are not in it).
async fn quota_load(db: &tollbooth::db::Db, org: &str, rate: usize, seconds: u64) -> (Vec<Duration>, Vec<Duration>, Duration) {
    use tollbooth::admission;
    use tollbooth::metering::Sender;
    use tollbooth::quota::{self, rules::Ask, ReserveInput};
    let sender = Sender { org_id: org.to_string(), api_key_id: None };
    let asks = vec![Ask { metric: tollbooth::plans::Metric::Requests, amount: 1 }, Ask { metric: tollbooth::plans::Metric::Tokens, amount: 100 }];
    // Warm up (loads the ledger or lease).
    admission::check(db, org, &asks).await.unwrap();
    let per_ms = rate / 1000;
    let total = rate * seconds as usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    let mut n = 0;
    while n < total {
        tick.tick().await;
        for _ in 0..per_ms.max(1) {
            let (db, org, sender, asks) = (db.clone(), org.to_string(), sender.clone(), asks.clone());
            let reserve = n % 2 == 1;
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                if reserve {
                    let g = admission::reserve(&db, &sender, ReserveInput { asks, ..Default::default() }).await.expect("reserve");
                    let took = t.elapsed();
                    quota::release_reservation(&db, &org, &g.reservation_id).await.expect("release");
                    (true, took)
                } else {
                    assert!(admission::check(&db, &org, &asks).await.expect("check").allowed);
                    (false, t.elapsed())
                }
            }));
            n += 1;
        }
    }
    let (mut checks, mut reserves) = (vec![], vec![]);
    for t in tasks {
        let (reserve, took) = t.await.unwrap();
        if reserve { reserves.push(took) } else { checks.push(took) }
    }
    (checks, reserves, started.elapsed())
}

/// `--quota-worker`: runs [`quota_load`] on the database and organization
/// given and prints the latencies (microseconds) for the parent.
async fn quota_worker(url: &str, org: &str, rate: usize, seconds: u64) {
    let db = tollbooth::db::Db::connect(url).await.expect("database");
    let (checks, reserves, took) = quota_load(&db, org, rate, seconds).await;
    let us = |v: &[Duration]| v.iter().map(|d| d.as_micros().to_string()).collect::<Vec<_>>().join(" ");
    println!("checks {}", us(&checks));
    println!("reserves {}", us(&reserves));
    println!("took {}", took.as_micros());
    db.close().await;
}

#[tokio::main]
async fn main() {
    let a = args();
    if a.seed_analytics {
        let o = analytics::Options { engines: a.engines, events: a.events, runs: a.runs, database_url: a.database_url, small_orgs: a.small_orgs, keep: a.keep };
        analytics::run(o).await;
        return;
    }
    if a.idle {
        analytics::idle(a.engines, a.small_orgs).await;
        return;
    }
    if a.gateway {
        gateway::run(a.rate, a.seconds, a.soak).await;
        return;
    }
    if let Some(org) = &a.org {
        quota_worker(a.database_url.as_deref().expect("--database-url"), org, a.rate, a.seconds).await;
        return;
    }
    if a.quota {
        for engine in a.engines {
            quota_bench(engine, a.rate, a.seconds, a.processes).await;
        }
        return;
    }
    let bodies = Arc::new(bodies(a.events, a.batch, a.backfill));
    println!("events={} batch={} concurrency={} timestamps={}", a.events, a.batch, a.concurrency, if a.backfill { "random past 13 months" } else { "now" });
    for engine in a.engines {
        let (db, key) = prepare(engine).await;
        let (mut child, port) = start_server(&db.url);
        let (elapsed, mut lat) = load(port, &key, bodies.clone(), a.concurrency).await;
        let _ = child.kill();
        let _ = child.wait();
        lat.sort();
        let rate = a.events as f64 / elapsed.as_secs_f64();
        let ceil = ceiling(engine, a.events, a.batch).await;
        let ceil_rate = a.events as f64 / ceil.as_secs_f64();
        println!(
            "{:<9} ingest {:>9.0} events/s  ack p50 {:>7.1} ms  p99 {:>7.1} ms | plain INSERT ceiling {:>9.0} events/s | ratio {:.2}",
            engine.name(),
            rate,
            pct(&lat, 0.50).as_secs_f64() * 1e3,
            pct(&lat, 0.99).as_secs_f64() * 1e3,
            ceil_rate,
            rate / ceil_rate
        );
        drop(db);
    }
}
