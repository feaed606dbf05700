//! Every HTTP listener of the cluster: the edge's S3 and admin ports, the
//! metadata service and the storage nodes serve through [`serve`], so one
//! set of rules bounds what any client can hold:
//!
//! - a request head must arrive within the header timeout of its first byte
//!   (and a new connection's first head, TLS handshake included, within the
//!   header timeout of the accept);
//! - a connection with no request in flight closes after the idle timeout;
//! - a request body must keep up a minimum rate while the server waits on
//!   it, and a response must not wait on a client that reads nothing for
//!   longer than the send timeout;
//! - open connections are capped in all and per client address, and HTTP/2
//!   streams per connection.
//!
//! What was cut off, and why, is counted in metrics with closed label sets.
//! This crate knows nothing of S3 or of the cluster; it must not grow
//! request semantics.

#![deny(unsafe_code)]

mod caps;
mod client_body;
mod conn_watch;
mod labels;
mod limits;
mod serve;
mod trusted_proxies;
mod watched_io;

pub use caps::Refusal;
pub use client_body::{BodyTooSlow, BoxError, ClientBody, WatchedBody};
pub use conn_watch::Cut;
pub use labels::method_label;
pub use limits::{Limits, LimitsError, RawLimits};
pub use serve::{Handshake, Listener, Plain, serve, serve_router};
pub use trusted_proxies::{BadProxy, TrustedProxies};
pub use watched_io::WatchedIo;

/// Describes this crate's metrics to the installed recorder.
pub fn describe_metrics() {
    metrics::describe_gauge!(
        "listener_connections_open",
        "Connections open now, by listener."
    );
    metrics::describe_counter!(
        "listener_connections_refused_total",
        "Connections closed at accept because a cap was reached, by listener and reason (max_connections, max_connections_per_address)."
    );
    metrics::describe_counter!(
        "listener_connections_cut_total",
        "Connections closed by a limit, by listener and reason (header_timeout, idle_timeout, send_timeout, body_too_slow)."
    );
}
