//! What one connection is waiting for, and until when.
//!
//! A connection is always in one of three states, each with its own clock:
//! - no request in flight and nothing arriving: closed after `idle_timeout`;
//! - the first bytes of a request (or of a new connection) arrived, its head
//!   has not: closed `header_timeout` after those bytes (slowloris);
//! - requests in flight: open for as long as the server works on them, but a
//!   response that handed a frame to a client who does not take it for
//!   `send_timeout` ends the connection, and so does a request body that
//!   arrives slower than the minimum rate (see [`crate::client_body`]).
//!
//! The state is kept here and read by the connection's task, which sleeps
//! until the earliest deadline and is woken when a deadline moves earlier.
//! Clocks are protocol-agnostic, so HTTP/1.1 and HTTP/2 are bounded alike.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::limits::Limits;

/// Why a connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    HeaderTimeout,
    IdleTimeout,
    SendTimeout,
    BodyTooSlow,
}

impl Cut {
    pub fn as_str(self) -> &'static str {
        match self {
            Cut::HeaderTimeout => "header_timeout",
            Cut::IdleTimeout => "idle_timeout",
            Cut::SendTimeout => "send_timeout",
            Cut::BodyTooSlow => "body_too_slow",
        }
    }
}

struct State {
    in_flight: usize,
    /// With no request in flight: the header or idle deadline.
    between_requests: Option<(Instant, Cut)>,
    /// Responses whose last frame the client has not taken, since when.
    handed_out: HashMap<u64, Instant>,
    next_response: u64,
    /// Set by a request body that arrived too slowly.
    cut: Option<Cut>,
}

pub struct ConnWatch {
    limits: Limits,
    state: Mutex<State>,
    /// Wakes the connection's task when a deadline moves earlier.
    pub(crate) wake: Notify,
    /// Set while idle, so that the reader reports the first byte once.
    awaiting_first_byte: AtomicBool,
}

impl ConnWatch {
    /// A new connection must send its first request head within the
    /// header timeout (a TLS handshake counts towards it).
    pub fn new(limits: Limits) -> Self {
        ConnWatch {
            limits,
            state: Mutex::new(State {
                in_flight: 0,
                between_requests: Some((
                    Instant::now() + limits.header_timeout,
                    Cut::HeaderTimeout,
                )),
                handed_out: HashMap::new(),
                next_response: 0,
                cut: None,
            }),
            wake: Notify::new(),
            awaiting_first_byte: AtomicBool::new(false),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request head arrived and goes to the service. Returns the id its
    /// response is tracked by.
    pub fn request_started(&self) -> u64 {
        self.awaiting_first_byte.store(false, Ordering::Relaxed);
        let mut s = self.state();
        s.in_flight += 1;
        s.between_requests = None;
        s.next_response += 1;
        s.next_response
    }

    /// A request and its response are done (or abandoned).
    pub fn request_finished(&self, response: u64) {
        let mut s = self.state();
        s.handed_out.remove(&response);
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.between_requests =
                Some((Instant::now() + self.limits.idle_timeout, Cut::IdleTimeout));
            self.awaiting_first_byte.store(true, Ordering::Relaxed);
        }
    }

    /// Bytes arrived on the connection. Between requests, the first of them
    /// starts the header clock.
    pub fn bytes_arrived(&self) {
        if !self.awaiting_first_byte.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut s = self.state();
        if s.in_flight == 0 {
            s.between_requests = Some((
                Instant::now() + self.limits.header_timeout,
                Cut::HeaderTimeout,
            ));
            drop(s);
            self.wake.notify_one();
        }
    }

    /// `response` handed a frame to the protocol layer to send.
    pub fn frame_handed_out(&self, response: u64) {
        let mut s = self.state();
        let first = s.handed_out.is_empty();
        s.handed_out.insert(response, Instant::now());
        drop(s);
        if first {
            self.wake.notify_one();
        }
    }

    /// The protocol layer asked `response` for its next frame: the last one
    /// went out.
    pub fn frame_taken(&self, response: u64) {
        self.state().handed_out.remove(&response);
    }

    /// A request body fell below the minimum rate.
    pub fn cut_body_too_slow(&self) {
        self.state().cut = Some(Cut::BodyTooSlow);
        self.wake.notify_one();
    }

    /// A cut decided by a body rather than by a clock, if any: the
    /// connection may end on its own (the handler answered the body's
    /// error) before the watch loop sees it, and it still counts as cut.
    pub fn decided_cut(&self) -> Option<Cut> {
        self.state().cut
    }

    /// The earliest deadline and what passing it means; `None`: nothing to
    /// wait for but the server's own work.
    pub fn deadline(&self) -> Option<(Instant, Cut)> {
        let s = self.state();
        if let Some(cut) = s.cut {
            return Some((Instant::now(), cut));
        }
        let sending = s
            .handed_out
            .values()
            .min()
            .map(|since| (*since + self.limits.send_timeout, Cut::SendTimeout));
        match (s.between_requests, sending) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Why the connection must be cut now, if it must.
    pub fn overdue(&self, now: Instant) -> Option<Cut> {
        self.deadline()
            .and_then(|(at, cut)| (at <= now).then_some(cut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            ..Limits::PUBLIC
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_state_has_its_clock() {
        let w = ConnWatch::new(limits());
        let t0 = Instant::now();
        // A new connection: the header clock.
        assert_eq!(
            w.deadline(),
            Some((t0 + Duration::from_secs(10), Cut::HeaderTimeout))
        );
        let r = w.request_started();
        assert_eq!(w.deadline(), None);
        tokio::time::advance(Duration::from_secs(100)).await;
        // The server working for long is not the client's fault.
        assert_eq!(w.overdue(Instant::now()), None);
        w.frame_handed_out(r);
        let t1 = Instant::now();
        assert_eq!(
            w.deadline(),
            Some((t1 + Duration::from_secs(30), Cut::SendTimeout))
        );
        w.frame_taken(r);
        assert_eq!(w.deadline(), None);
        w.request_finished(r);
        assert_eq!(
            w.deadline(),
            Some((t1 + Duration::from_secs(60), Cut::IdleTimeout))
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        // Bytes of the next head: the header clock, once.
        w.bytes_arrived();
        let t2 = Instant::now();
        assert_eq!(
            w.deadline(),
            Some((t2 + Duration::from_secs(10), Cut::HeaderTimeout))
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        w.bytes_arrived();
        assert_eq!(
            w.deadline(),
            Some((t2 + Duration::from_secs(10), Cut::HeaderTimeout))
        );
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(w.overdue(Instant::now()), Some(Cut::HeaderTimeout));
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_stalled_response_and_a_slow_body_decide() {
        let w = ConnWatch::new(limits());
        let (a, b) = (w.request_started(), w.request_started());
        w.frame_handed_out(a);
        tokio::time::advance(Duration::from_secs(10)).await;
        w.frame_handed_out(b);
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(w.overdue(Instant::now()), Some(Cut::SendTimeout));
        w.request_finished(a);
        assert_eq!(w.overdue(Instant::now()), None);
        w.cut_body_too_slow();
        assert_eq!(w.overdue(Instant::now()), Some(Cut::BodyTooSlow));
    }
}
