//! What idle sockets cost one `notifications-ws` process, and how fast a
//! publish reaches them (ignored: run by `scripts/bench-ws`, which builds the
//! release binary and raises the file limit). The binary serves on
//! 127.0.0.1 with emulator tokens; each socket is another user's, opened
//! with `?token=`. After each step (`WS_BENCH_SOCKETS`, default
//! `1000,10000`) it prints the process's RSS, bytes per socket over the
//! process with no socket, its TCP connections to Redis, and the Redis
//! clients holding subscriptions; at the first step it publishes
//! `WS_BENCH_ROUNDS` (5) messages to every socket's channel, one every
//! 0.5 ms, and prints the latency from `PUBLISH` to the client reading it
//! (p50, p99, max).

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;
use shared::testing::{
    Killed, PROJECT_ID, claims, free_port, fresh_db_url, redis_url, unsigned_token,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Resident set size of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// TCP connections `pid` holds to port 6379 (Redis).
fn redis_connections(pid: u32) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut n = 0;
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let remote_port = cols[2].rsplit(':').next().unwrap();
            if remote_port == "18EB" && cols[3] == "01" && inodes.contains(cols[9]) {
                n += 1;
            }
        }
    }
    n
}

/// Redis clients subscribed to at least one channel, with their channel counts.
async fn subscribers(redis: &mut redis::aio::MultiplexedConnection) -> Vec<usize> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(redis)
        .await
        .unwrap();
    list.lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|f| f.strip_prefix("sub="))?
                .parse()
                .ok()
        })
        .filter(|n: &usize| *n > 0)
        .collect()
}

fn millis(d: u128) -> f64 {
    d as f64 / 1e6
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: scripts/bench-ws"]
async fn idle_sockets_and_publish_to_delivery_latency() {
    let bin = std::env::var("WS_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_notifications-ws").to_owned());
    let steps: Vec<usize> = env_or("WS_BENCH_SOCKETS", "1000,10000")
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let rounds: usize = env_or("WS_BENCH_ROUNDS", "5").parse().unwrap();
    let db = fresh_db_url().await;
    let prefix = format!("wsbench:{}", uuid::Uuid::new_v4().simple());
    let port = free_port();
    let child = Killed(
        Command::new(&bin)
            .env_clear()
            .env("DATABASE_URL", &db)
            .env("REDIS_URL", redis_url())
            .env("FIREBASE_PROJECT_ID", PROJECT_ID)
            .env("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
            .env("REDIS_KEY_PREFIX", &prefix)
            .env("PORT", port.to_string())
            .env("RUST_LOG", "error")
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .env("WS_MAX_PER_ADDRESS", "1000000")
            .env("RATE_LIMIT_ANONYMOUS", "1000000")
            .env("FLOOD_LIMIT", "1000000")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let http = shared::testing::http_client();
    for _ in 0..200 {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = rss(pid);
    println!(
        "binary {bin}\nno socket: RSS {:.1} MiB, Redis connections {}",
        baseline as f64 / 1048576.0,
        redis_connections(pid)
    );

    let client = redis::Client::open(redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let (latency_tx, mut latency_rx) = mpsc::unbounded_channel::<u128>();
    let mut readers = Vec::new();
    let mut open = 0;
    for (step, &target) in steps.iter().enumerate() {
        let started = Instant::now();
        let mut connecting = FuturesUnordered::new();
        let mut next = open;
        while open < target {
            while next < target && connecting.len() < 64 {
                let uid = format!("bench-{next}");
                let token = unsigned_token(&claims(&uid));
                let url =
                    format!("ws://127.0.0.1:{port}/api/ws/user/{uid}/notifications?token={token}");
                connecting.push(async move { tokio_tungstenite::connect_async(url).await });
                next += 1;
            }
            let (mut socket, _) = connecting.next().await.unwrap().expect("socket opens");
            match socket.next().await {
                Some(Ok(Message::Text(hello))) => assert!(hello.contains("connected"), "{hello}"),
                other => panic!("no greeting: {other:?}"),
            }
            let tx = latency_tx.clone();
            readers.push(tokio::spawn(async move {
                while let Some(Ok(frame)) = socket.next().await {
                    if let Message::Text(text) = frame
                        && let Some(sent) = text
                            .strip_prefix("{\"bench\":")
                            .and_then(|t| t.trim_end_matches('}').parse::<u128>().ok())
                    {
                        let _ = tx.send(now_nanos().saturating_sub(sent));
                    }
                }
            }));
            open += 1;
        }
        let opened_in = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = rss(pid);
        let subs = subscribers(&mut redis).await;
        println!(
            "{open} idle sockets (opened in {opened_in:.1?}): RSS {:.1} MiB, {:.0} bytes per socket, \
             Redis connections of the process {}, Redis clients with subscriptions: {} \
             (the one holding {open} channels: {})",
            now as f64 / 1048576.0,
            (now.saturating_sub(baseline)) as f64 / open as f64,
            redis_connections(pid),
            subs.len(),
            subs.iter().filter(|n| **n == open).count(),
        );

        if step == 0 {
            let mut samples = Vec::with_capacity(rounds * open);
            for _ in 0..rounds {
                for i in 0..open {
                    let channel = format!("{prefix}:notifications:bench-{i}");
                    let payload = json!({ "bench": now_nanos() }).to_string();
                    let _: i64 = redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(payload)
                        .query_async(&mut redis)
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while samples.len() < rounds * open && Instant::now() < deadline {
                if let Ok(Some(ns)) =
                    tokio::time::timeout(Duration::from_secs(1), latency_rx.recv()).await
                {
                    samples.push(ns);
                }
            }
            samples.sort_unstable();
            let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
            println!(
                "publish to delivery at {open} sockets: {} of {} delivered, p50 {:.2} ms, \
                 p99 {:.2} ms, max {:.2} ms",
                samples.len(),
                rounds * open,
                millis(at(0.5)),
                millis(at(0.99)),
                millis(*samples.last().unwrap()),
            );
            assert_eq!(samples.len(), rounds * open, "every message delivered");
        }
    }
    for reader in readers {
        reader.abort();
    }
}
