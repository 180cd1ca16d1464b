//! Analytics at volume: `tollbooth-bench --seed-analytics [--engine sqlite|postgres|both]
//! [--events 10000000] [--runs 20] [--database-url URL]`.
//!
//! Seeds a fresh database (or times an existing one given by `--database-url`)
//! with a year of a busy customer's data straight through the core's ingest
//! entry point (events, rollups, counters, budgets: everything a real batch
//! writes): one organization with `--events` events over 13 months, 200,000
//! end users, 50 projects, 20 features, 30 models of the shipped price book and
//! sessions of about 20 events, plus 999 small organizations. The data are
//! drawn from a fixed seed, so two runs seed the same rows.
//!
//! It then starts the `tollbooth` server on that database as its own process
//! and times, `--runs` times each, the usage panel (server-rendered, 7 days,
//! 30 days, 13 months), `GET /api/v1/usage` for every grouping over 30 days
//! and 13 months, and the admin dashboard with its tenant list; it prints
//! p50/p95/max per request and the server's resident memory (now and peak).
//!
//! `--idle [--small-orgs 999]` seeds only the small organizations (100
//! events each, plus one with none) and reports the server's resident memory
//! at rest: after start and every 10 s for a minute with no requests, while
//! its background tasks (billing job, outbox, retention, rollup fold) run.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollbooth::db::{Db, Engine};
use tollbooth::ingest;
use tollbooth::metering::{self, Sender};

/// The 30 models of the seeded organization (all in the shipped price book).
const MODELS: [&str; 30] = [
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5.1", "o3",
    "o4-mini", "o3-mini", "gpt-4-turbo", "gpt-3.5-turbo", "claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5",
    "claude-opus-4-7", "gemini/gemini-2.5-pro", "gemini/gemini-2.5-flash", "mistral/mistral-large-latest",
    "mistral/mistral-small-latest", "deepseek/deepseek-chat", "deepseek/deepseek-reasoner", "xai/grok-4.3",
    "vertex_ai/gemini-2.0-flash", "text-embedding-3-small", "text-embedding-3-large",
    "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "command-r-plus-08-2024",
];
const USERS: u64 = 200_000;
const PROJECTS: u64 = 50;
const FEATURES: u64 = 20;
const SESSION_EVENTS: u64 = 20;
const SMALL_ORG_EVENTS: usize = 100;
const DAY_MS: i64 = 86_400_000;
const SPAN_DAYS: i64 = 395;
const BATCH: usize = 1000;
const OWNER: &str = "owner@analytics.bench";
const ADMIN: &str = "admin@analytics.bench";
const PASSWORD: &str = "correct-horse-battery";

// splitmix64 with a fixed seed (the sample data's), so every run seeds the same data.
use tollbooth::sample::Rng;

/// The options of `--seed-analytics`.
pub struct Options {
    pub engines: Vec<Engine>,
    pub events: usize,
    pub runs: usize,
    pub database_url: Option<String>,
    /// Small organizations beside the busy one (999 for the issue's data set).
    pub small_orgs: usize,
    /// Keep each seeded database, to time it again with `--database-url`.
    pub keep: bool,
}

/// One event of the big organization: event `n` of `total`, in session
/// `n / 20`, whose user, project, feature and model are drawn once per
/// session; the events spread evenly over 13 months, in order.
fn big_event(n: u64, total: u64, now: i64) -> String {
    let session = n / SESSION_EVENTS;
    let mut s = Rng(session.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 17);
    let user = s.below(USERS);
    let project = s.below(PROJECTS);
    let feature = s.below(FEATURES);
    let model = MODELS[s.below(MODELS.len() as u64) as usize];
    let mut e = Rng(n ^ 0xABCD_EF01);
    let start = now - SPAN_DAYS * DAY_MS;
    let ts = start + ((now - start) as i128 * n as i128 / total.max(1) as i128) as i64;
    let input = 200 + e.below(4000);
    let cached = if e.below(3) == 0 { input / 2 } else { 0 };
    let output = if model.starts_with("text-embedding") { 0 } else { 50 + e.below(1500) };
    let status = match e.below(100) {
        0 => "error",
        1 => "rate_limited",
        _ => "success",
    };
    let latency = 150 + e.below(4000) + if e.below(20) == 0 { 20_000 } else { 0 };
    format!(
        r#"{{"id":"b{n}","timestamp":"{}","user_id":"user-{user}","project_id":"project-{project}","feature":"feature-{feature}","session_id":"session-{session}","model":"{model}","input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output},"latency_ms":{latency},"status":"{status}"}}"#,
        tollbooth::clock::to_rfc3339(ts)
    )
}

async fn record(db: &Db, org_id: &str, bodies: &[String]) {
    let now = tollbooth::clock::now_ms();
    let events: Vec<metering::ParsedEvent> = bodies.iter().map(|b| metering::parse_event_json(b, now).map_err(|e| panic!("{e}"))).collect();
    let sender = Sender { org_id: org_id.to_string(), api_key_id: None };
    let results = ingest::record_usage(db, &sender, events).await.expect("record");
    assert!(results.iter().all(|r| r.status != metering::Outcome::Rejected), "a seeded event was rejected");
}

/// Seeds the data set; returns the big organization's id.
async fn seed(db: &Db, config: &tollbooth_server::Config, events: usize, small_orgs: usize) -> String {
    let started = Instant::now();
    let book = tollbooth::pricing::PriceBook::default_catalog().expect("catalog");
    for m in MODELS {
        assert!(book.get(m).is_some(), "{m} is not in the shipped price book");
    }
    tollbooth::pricing::store::import(db, &book, "catalog", Some(0)).await.expect("import prices");
    tollbooth::accounts::create_admin(db, ADMIN, Some(PASSWORD)).await.expect("admin");
    let big = tollbooth_server::cli::create_org(db, config, "Busy Customer", OWNER, Some(PASSWORD)).await.expect("org");
    let mut tx = db.begin().await.unwrap();
    tollbooth::plans::assign_plan(&mut tx, &big.org_id, "enterprise").await.expect("plan");
    tx.commit().await.unwrap();
    let now = tollbooth::clock::now_ms();
    let next = Arc::new(AtomicUsize::new(0));
    let batches = events.div_ceil(BATCH);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (db, org, next) = (db.clone(), big.org_id.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches {
                        break;
                    }
                    let from = b * BATCH;
                    let bodies: Vec<String> = (from..(from + BATCH).min(events)).map(|n| big_event(n as u64, events as u64, now)).collect();
                    record(&db, &org, &bodies).await;
                    if b % 500 == 0 {
                        eprintln!("  seeded {} of {events} events", from);
                    }
                }
            })
        })
        .collect();
    // Seeded events are past-dated, so they wait in rollup_pending like any
    // backfill: a folder runs beside the writers as the server's would, and
    // the rest is folded before the timing starts.
    // It stops between folds when told (not aborted: an aborted fold could
    // leave the writer connection inside its transaction).
    let stop = Arc::new(AtomicBool::new(false));
    let folding = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                if tollbooth::metering::analytics::pending::fold(&db, 20_000).await.expect("fold") == 0 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        })
    };
    for w in workers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    folding.await.expect("the folder");
    tollbooth::metering::analytics::pending::fold_all(db, 20_000).await.expect("fold");
    let big_done = started.elapsed();
    for i in 0..small_orgs {
        let org = tollbooth_server::cli::create_org(db, config, &format!("Small {i:03}"), &format!("owner{i}@small.bench"), Some(PASSWORD))
            .await
            .expect("small org");
        let mut r = Rng(i as u64);
        let bodies: Vec<String> = (0..SMALL_ORG_EVENTS)
            .map(|k| {
                let ts = now - r.below(30) as i64 * DAY_MS - r.below(DAY_MS as u64) as i64;
                format!(
                    r#"{{"id":"s{k}","timestamp":"{}","user_id":"u{}","model":"{}","input_tokens":{},"output_tokens":{},"latency_ms":{}}}"#,
                    tollbooth::clock::to_rfc3339(ts),
                    r.below(10),
                    MODELS[r.below(5) as usize],
                    100 + r.below(1000),
                    10 + r.below(500),
                    100 + r.below(2000)
                )
            })
            .collect();
        record(db, &org.org_id, &bodies).await;
    }
    tollbooth::metering::analytics::pending::fold_all(db, 20_000).await.expect("fold");
    println!(
        "seeded {events} events for one organization in {:.0} s ({:.0} events/s), then {small_orgs} small organizations ({} s in all)",
        big_done.as_secs_f64(),
        events as f64 / big_done.as_secs_f64(),
        started.elapsed().as_secs()
    );
    big.org_id
}

fn start_server(url: &str) -> (Child, u16) {
    start_server_with(url, &[])
}

fn start_server_with(url: &str, env: &[(&str, &str)]) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bin = std::env::current_exe().unwrap().with_file_name("tollbooth");
    let site = std::env::temp_dir().join("tollbooth-bench-site");
    std::fs::create_dir_all(&site).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", &site)
        .env("TOLLBOOTH_SEED", "false")
        .env("TOLLBOOTH_SEED_DEMO_USAGE", "false")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the tollbooth binary (build it first: cargo build --release -p tollbooth-server --bins)");
    (child, port)
}

/// Resident memory of a process, now and at its peak (kB → MB).
pub fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn signed_in(base: &str, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let resp = client
        .post(format!("{base}/api/login"))
        .header("Origin", base)
        .header("Accept", "application/json")
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "login {email}: {}", resp.text().await.unwrap_or_default());
    client
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A grouping the range caps refuse: checks the 422 and prints it in place of figures.
async fn refused(client: &reqwest::Client, label: &str, url: &str, auth: &str) {
    let resp = client.get(url).header("Authorization", auth).send().await.unwrap();
    assert_eq!(resp.status(), 422, "{label}: expected the range cap's refusal");
    println!("| {label} | refused: 422, the cap is {} days | | | | |", tollbooth::metering::analytics::WIDE_MAX_DAYS);
}

/// Times `runs` GETs of `url`; prints a line; checks every answer is 200.
async fn time(client: &reqwest::Client, label: &str, url: &str, runs: usize, auth: Option<&str>, pid: u32) {
    let mut took = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let mut req = client.get(url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let t = Instant::now();
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        took.push(t.elapsed());
        assert_eq!(status, 200, "{label}: {}", String::from_utf8_lossy(&body[..body.len().min(500)]));
        bytes = body.len();
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "| {label} | {:.1} | {:.1} | {:.1} | {} | {:.0} |",
        ms(pct(&took, 0.5)),
        ms(pct(&took, 0.95)),
        ms(*took.last().unwrap()),
        bytes,
        rss_mb(pid).0
    );
}

async fn measure(url: &str, org_id: &str, runs: usize) {
    let (mut child, port) = start_server(url);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let owner = signed_in(&base, OWNER).await;
    let admin = signed_in(&base, ADMIN).await;
    let db = Db::connect(url).await.unwrap();
    let key = tollbooth::api_keys::create_for_org(
        &db,
        org_id,
        &tollbooth::api_keys::NewKey { name: "bench", rate_limit_per_minute: None, scopes: tollbooth::api_keys::Scopes::ALL, model_allowlist: None },
        &tollbooth::audit::By::system("bench"),
    )
    .await
    .unwrap();
    db.close().await;
    let auth = format!("Bearer {}", key.secret);
    let day = |ms: i64| tollbooth::clock::to_rfc3339(ms)[..10].to_string();
    let (today, year_ago) = (day(tollbooth::clock::now_ms()), day(tollbooth::clock::now_ms() - 394 * DAY_MS));
    let pid = child.id();
    println!("server RSS at start: {:.0} MB", rss_mb(pid).0);
    println!("| request | p50 ms | p95 ms | max ms | bytes | RSS after, MB |\n|---|---|---|---|---|---|");
    time(&owner, "usage panel 7 days (SSR)", &format!("{base}/o/{org_id}?range=7d"), runs, None, pid).await;
    time(&owner, "usage panel 30 days (SSR)", &format!("{base}/o/{org_id}?range=30d"), runs, None, pid).await;
    time(&owner, "usage panel 13 months (SSR)", &format!("{base}/o/{org_id}?from={year_ago}&to={today}"), runs, None, pid).await;
    let now = tollbooth::clock::now_ms();
    for (span, days) in [("30 days", 30), ("13 months", 394)] {
        let from = tollbooth::clock::to_rfc3339(now - days * DAY_MS);
        let to = tollbooth::clock::to_rfc3339(now);
        for group in ["day", "hour", "month", "model", "provider", "user", "project", "feature", "session", "day,model"] {
            let url = format!("{base}/api/v1/usage?from={from}&to={to}&group_by={group}");
            let label = format!("GET /api/v1/usage {span} group_by={group}");
            if days > tollbooth::metering::analytics::WIDE_MAX_DAYS && matches!(group, "user" | "session") {
                refused(&client, &label, &url, &auth).await;
            } else {
                time(&client, &label, &url, runs, Some(&auth), pid).await;
            }
        }
    }
    time(&admin, "admin dashboard and tenant list (SSR)", &format!("{base}/admin"), runs, None, pid).await;
    time(&admin, "admin drill-down of the busy organization (SSR)", &format!("{base}/admin/org?id={org_id}"), runs, None, pid).await;
    let (now_mb, peak_mb) = rss_mb(child.id());
    println!("server RSS: {now_mb:.0} MB now, {peak_mb:.0} MB at its peak");
    let _ = child.kill();
    let _ = child.wait();
}

/// `--seed-analytics`.
pub async fn run(o: Options) {
    if let Some(url) = &o.database_url {
        let db = Db::connect(url).await.expect("database");
        let org: String = sqlx::query_scalar("SELECT org_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1")
            .bind(OWNER)
            .fetch_one(db.reader())
            .await
            .expect("a database seeded by --seed-analytics");
        db.close().await;
        measure(url, &org, o.runs).await;
        return;
    }
    for engine in o.engines {
        let test_db = tollbooth::testing::TestDb::new(engine).await.expect("database");
        let config = tollbooth_server::cli::Cli::parse_config_for(&test_db.url);
        println!("## {} ({} events)", engine.name(), o.events);
        let org = seed(&test_db.db, &config, o.events, o.small_orgs).await;
        // The seeding pool goes before the server opens the file.
        test_db.db.close().await;
        measure(&test_db.url, &org, o.runs).await;
        if o.keep {
            println!("kept: --database-url {}", test_db.url);
            std::mem::forget(test_db);
        }
    }
}

/// `--idle`: the server's resident memory at rest over `small_orgs`
/// organizations, on each engine.
pub async fn idle(engines: Vec<Engine>, small_orgs: usize) {
    for engine in engines {
        let test_db = tollbooth::testing::TestDb::new(engine).await.expect("database");
        let config = tollbooth_server::cli::Cli::parse_config_for(&test_db.url);
        println!("## {} ({small_orgs} organizations of {SMALL_ORG_EVENTS} events, and one with none)", engine.name());
        seed(&test_db.db, &config, 0, small_orgs).await;
        test_db.db.close().await;
        // As a plain meter, then as a gateway with an upstream key (its
        // tokenizers are loaded at start).
        for (label, env) in [("no gateway upstream", vec![]), ("TOLLBOOTH_OPENAI_API_KEY set", vec![("TOLLBOOTH_OPENAI_API_KEY", "sk-idle-bench")])] {
            println!("### {label}");
            let (mut child, port) = start_server_with(&test_db.url, &env);
            let client = reqwest::Client::new();
            for _ in 0..600 {
                if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            println!("server RSS when ready: {:.0} MB", rss_mb(child.id()).0);
            for i in 1..=6 {
                tokio::time::sleep(Duration::from_secs(10)).await;
                println!("after {:>2} s at rest: {:.0} MB", i * 10, rss_mb(child.id()).0);
            }
            let (now_mb, peak_mb) = rss_mb(child.id());
            println!("server RSS: {now_mb:.0} MB now, {peak_mb:.0} MB at its peak");
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
