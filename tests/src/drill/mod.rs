//! The failure drill (the `drill` binary): write a verified dataset, measure,
//! break storage nodes under load, watch the cluster notice and heal, and
//! check that every acknowledged byte is still there. The parts that need no
//! cluster live here and are unit-tested; the binary strings them together.

pub mod fault;
pub mod latency;
pub mod ledger;
pub mod report;
pub mod shapes;
pub mod status;
pub mod traffic;
pub mod verify;
