//! Structured JSON logs on stdout; each request's lines carry its request id.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber once; later calls do nothing.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
