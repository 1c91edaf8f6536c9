//! JSON logs, one object a line, as CloudWatch Logs Insights reads them. The span fields
//! (`order_id`, `execution`, `request_id`) are flattened into every line an invocation logs.

/// Installs the JSON subscriber; `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .flatten_event(true)
        .with_span_list(true)
        // CloudWatch stamps each line itself; Lambda's own prefix would break the JSON.
        .without_time()
        .with_target(false)
        .init();
}
