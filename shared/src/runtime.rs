//! Runs one function: HTTP on `0.0.0.0:$PORT` (Knative's contract), or under
//! the AWS Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set and the binary
//! was built with the `lambda` feature ([`crate::lambda`]). SIGTERM stops
//! accepting, lets in-flight requests finish, then exits 0.
//!
//! Socket activation: when `LISTEN_FDS=1` and `LISTEN_PID` is this process's
//! id (systemd's protocol, `sd_listen_fds`), the process serves the listening
//! socket it inherited as fd 3 instead of binding `$PORT`. Whoever started it
//! bound the socket first and the kernel queued connections on it, so the
//! first request waits for the process to start instead of being refused
//! (`scripts/bench-edge` starts functions on their first request this way).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use axum::Router;

use crate::config::Config;
use crate::function::Function;
use crate::state::AppState;
use crate::{app, telemetry};

/// The `main` of every function binary.
pub fn run(function: Function) -> ExitCode {
    serve_all(vec![function])
}

/// Serves `functions` together in one process (one function in production;
/// all of them in the dev server).
pub fn serve_all(functions: Vec<Function>) -> ExitCode {
    std::sync::LazyLock::force(&crate::metrics::PROCESS_START);
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let names: Vec<String> = functions.iter().map(|f| f.manifest.name.clone()).collect();
    if !functions.iter().all(|f| f.manifest.read_only) {
        // A process that serves any writer reads from the primary only.
        config.database_read_url = None;
    }
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        config.function = names.join("+");
    }
    let _telemetry = telemetry::init(&config, &config.function.clone());
    if let Some(host) = &config.firebase_auth_emulator_host {
        tracing::warn!(
            emulator = %host,
            project = %config.firebase_project_id,
            "FIREBASE_AUTH_EMULATOR_HOST is set: UNSIGNED emulator tokens are accepted. Never use this in production."
        );
    }
    let port = config.port;
    let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    if lambda && !cfg!(feature = "lambda") {
        eprintln!(
            "AWS_LAMBDA_RUNTIME_API is set, but this binary was built without the `lambda` feature \
             (build it with `--features shared/lambda`, see README, AWS Lambda)"
        );
        return ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        // Pools are lazy, but sqlx needs a runtime to create one.
        let state = AppState::new(config).map_err(|e| e.to_string())?;
        let app = app::build(functions, state);
        #[cfg(feature = "lambda")]
        if lambda {
            tracing::info!(functions = ?names, "serving under the Lambda runtime API");
            return crate::lambda::run(app).await.map_err(|e| e.to_string());
        }
        serve_http(app, port, &names)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve_http(app: Router, port: u16, names: &[String]) -> std::io::Result<()> {
    let listener = match inherited_listener()? {
        Some(listener) => listener,
        None => tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?,
    };
    tracing::info!(addr = %listener.local_addr()?, functions = ?names, "listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    // Upgraded connections (WebSockets) outlive hyper's drain: give them a
    // moment to send their close frames.
    let deadline = tokio::time::Instant::now() + LONG_LIVED_GRACE;
    while LONG_LIVED.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!("drained; exiting");
    Ok(())
}

/// The first socket passed by socket activation (fd 3), when `LISTEN_FDS=1`
/// and `LISTEN_PID` names this process; `None` otherwise. More than one
/// socket is refused: a function serves one port.
fn inherited_listener() -> std::io::Result<Option<tokio::net::TcpListener>> {
    const SD_LISTEN_FDS_START: i32 = 3;
    let for_us = std::env::var("LISTEN_PID").is_ok_and(|p| p == std::process::id().to_string());
    let count = std::env::var("LISTEN_FDS").ok();
    match count.as_deref() {
        Some(_) if !for_us => Ok(None),
        None => Ok(None),
        Some("1") => {
            // SAFETY: LISTEN_PID names this process, so whoever started it
            // passed fd 3 for it to own (the socket-activation protocol); fd 3
            // was open from the start, so no other handle here can be fd 3.
            #[allow(unsafe_code)]
            let std_listener = unsafe {
                <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(SD_LISTEN_FDS_START)
            };
            std_listener.local_addr()?;
            std_listener.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(std_listener).map(Some)
        }
        Some(n) => Err(std::io::Error::other(format!(
            "LISTEN_FDS={n}: a function serves exactly one inherited socket"
        ))),
    }
}

static DRAINING: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::Sender::new(false));
static LONG_LIVED: AtomicUsize = AtomicUsize::new(0);
const LONG_LIVED_GRACE: Duration = Duration::from_secs(5);

/// Becomes `true` once SIGTERM arrived: long-lived handlers (WebSockets) watch
/// it to close their connections (1001, "going away") so clients reconnect to
/// another instance.
pub fn draining() -> watch::Receiver<bool> {
    DRAINING.subscribe()
}

/// Held by a long-lived connection; the process waits (up to 5 s) after the
/// HTTP drain for every guard to drop before it exits.
pub struct LongLived(());

impl LongLived {
    /// Registers one long-lived connection.
    pub fn hold() -> Self {
        LONG_LIVED.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for LongLived {
    fn drop(&mut self) {
        LONG_LIVED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves on SIGTERM (Knative, Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown signal received; draining in-flight requests");
    DRAINING.send_replace(true);
}
