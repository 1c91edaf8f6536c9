//! Logging: readable lines in a terminal, or one JSON object a line for log pipelines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. Levels come from `RUST_LOG` (default `info`).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true)).try_init()
    } else {
        // Colour codes help a reader at a terminal and litter a file or a pipe.
        let colour = std::io::stdout().is_terminal();
        registry.with(tracing_subscriber::fmt::layer().compact().with_ansi(colour)).try_init()
    };
    // Already installed (tests start several servers in one process): keep the first.
    let _ = result;
}
