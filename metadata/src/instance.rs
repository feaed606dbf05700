//! Which process is answering. Every process has an instance id, fresh at
//! each start (or given by its supervisor in [`INSTANCE_ENV`]), sent with
//! every `/health` answer in the [`INSTANCE_HEADER`] header. A supervisor
//! waiting for its child to be ready compares it with the id it gave the
//! child, so another process that holds the same port (a second local
//! cluster, a leftover from an earlier run) is never taken for its own.
//! Operators can read it too: it changes when a process restarts.

use std::sync::OnceLock;

/// Env var: the instance id this process reports, when its supervisor
/// chose one (1 to 64 ASCII letters, digits or `-`; anything else is
/// ignored and a random id used).
pub const INSTANCE_ENV: &str = "TESSERA_INSTANCE_ID";

/// Response header of `/health` on every role: the answering process's
/// instance id.
pub const INSTANCE_HEADER: &str = "x-tessera-instance";

/// This process's instance id.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::env::var(INSTANCE_ENV)
            .ok()
            .filter(|id| is_valid(id))
            .unwrap_or_else(new_instance_id)
    })
}

/// A fresh random id, for a supervisor to give a child it starts.
pub fn new_instance_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

fn is_valid(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The plain `/health` answer of the metadata service and the edge: `ok`,
/// with this process's instance id.
pub fn health_ok() -> ([(&'static str, &'static str); 1], &'static str) {
    ([(INSTANCE_HEADER, instance_id())], "ok\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_safe_header_values() {
        assert!(is_valid(&new_instance_id()));
        assert_ne!(new_instance_id(), new_instance_id());
        assert!(is_valid("node-1-a1b2"));
        for bad in ["", "has space", "new\nline", &"x".repeat(65)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert!(is_valid(instance_id()));
        assert_eq!(instance_id(), instance_id());
    }
}
