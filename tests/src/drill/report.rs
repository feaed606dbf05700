//! The drill's report: what an operator reads after a drill (text), or a
//! script checks (JSON), and the verdict. A drill passes only when nothing
//! acknowledged was lost, no wrong byte was served, the cluster got back to
//! full redundancy in time, and (if asked) the killed nodes came back.

use std::fmt::Write as _;

use serde::Serialize;

use super::latency::LatencySummary;
use super::traffic::{OpCounts, PhaseCounts};
use super::verify::Verification;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub bucket: String,
    pub key_prefix: String,
    pub faults: FaultPlan,
    /// Acknowledged objects: the dataset plus every write acknowledged later.
    pub ledger_objects: usize,
    pub dataset_objects: usize,
    pub baseline: PhaseReport,
    pub during_fault: PhaseReport,
    /// From the fault until the metadata service reported every faulted
    /// node down (`None`: it did not, or, for a freeze, not before the thaw).
    pub time_to_detect_secs: Option<f64>,
    pub repair: RepairReport,
    /// Present when the drill was asked to restart killed nodes.
    pub restart: Option<RestartReport>,
    pub verification: VerificationReport,
    pub totals: Totals,
    pub passed: bool,
    /// Why it did not pass (empty when it did).
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultPlan {
    pub kill: Vec<String>,
    pub freeze: Vec<String>,
    pub freeze_for_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseReport {
    pub seconds: f64,
    pub reads: OpReport,
    pub writes: OpReport,
}

impl PhaseReport {
    pub fn new(seconds: f64, counts: &PhaseCounts) -> Self {
        PhaseReport {
            seconds,
            reads: OpReport::from(&counts.reads),
            writes: OpReport::from(&counts.writes),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OpReport {
    pub attempted: u64,
    pub failed: u64,
    pub wrong_bodies: u64,
    /// Of the operations that succeeded.
    pub latency: LatencySummary,
    pub sample_errors: Vec<String>,
}

impl From<&OpCounts> for OpReport {
    fn from(c: &OpCounts) -> Self {
        OpReport {
            attempted: c.attempted,
            failed: c.failed,
            wrong_bodies: c.wrong_bodies,
            latency: LatencySummary::of(&c.latencies),
            sample_errors: c.sample_errors.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RepairReport {
    /// The status report showed no degraded and no unreadable stripe (and
    /// every frozen node up again) before the timeout.
    pub completed: bool,
    pub timed_out: bool,
    /// From the fault until full redundancy.
    pub time_to_full_redundancy_secs: Option<f64>,
    /// Growth of `repair.rebuilt_bytes` over the drill (`None`: the cluster
    /// does not report it).
    pub bytes_repaired: Option<u64>,
    /// The worst the status report showed during the fault.
    pub max_degraded_stripes: u64,
    pub max_degraded_bytes: u64,
    pub max_unreadable_stripes: u64,
    /// Status polls that got no answer.
    pub status_errors: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RestartReport {
    pub completed: bool,
    /// From the restart request until every restarted node was up.
    pub secs: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerificationReport {
    pub checked: usize,
    pub lost: usize,
    pub wrong_bodies: u64,
    pub recovered_on_retry: usize,
    pub lost_examples: Vec<String>,
}

impl From<&Verification> for VerificationReport {
    fn from(v: &Verification) -> Self {
        VerificationReport {
            checked: v.checked,
            lost: v.lost,
            wrong_bodies: v.wrong_bodies,
            recovered_on_retry: v.recovered_on_retry,
            lost_examples: v.lost_examples.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub reads_attempted: u64,
    pub reads_failed: u64,
    pub writes_attempted: u64,
    pub writes_failed: u64,
    /// Wrong bodies served at any time, in traffic or verification.
    pub wrong_bodies: u64,
    pub lost_objects: usize,
}

impl Report {
    /// Fills in the totals and the verdict from everything else.
    pub fn judge(&mut self) {
        let phases = [&self.baseline, &self.during_fault];
        self.totals = Totals {
            reads_attempted: phases.iter().map(|p| p.reads.attempted).sum(),
            reads_failed: phases.iter().map(|p| p.reads.failed).sum(),
            writes_attempted: phases.iter().map(|p| p.writes.attempted).sum(),
            writes_failed: phases.iter().map(|p| p.writes.failed).sum(),
            wrong_bodies: phases.iter().map(|p| p.reads.wrong_bodies).sum::<u64>()
                + self.verification.wrong_bodies,
            lost_objects: self.verification.lost,
        };
        let mut failures = Vec::new();
        if self.totals.lost_objects > 0 {
            failures.push(format!(
                "{} acknowledged objects lost",
                self.totals.lost_objects
            ));
        }
        if self.totals.wrong_bodies > 0 {
            failures.push(format!(
                "{} reads returned wrong bytes",
                self.totals.wrong_bodies
            ));
        }
        if !self.faults.kill.is_empty() && self.time_to_detect_secs.is_none() {
            failures.push("the killed nodes were never reported down".to_owned());
        }
        if !self.repair.completed {
            failures.push(if self.repair.timed_out {
                "full redundancy did not return before the repair timeout".to_owned()
            } else {
                "full redundancy did not return".to_owned()
            });
        }
        if let Some(r) = &self.restart
            && !r.completed
        {
            failures.push(match &r.error {
                Some(e) => format!("restarting the killed nodes failed: {e}"),
                None => "the restarted nodes did not come up".to_owned(),
            });
        }
        self.passed = failures.is_empty();
        self.failures = failures;
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "Failure drill on bucket {} (keys {}/...)",
            self.bucket, self.key_prefix
        )?;
        writeln!(out, "{:<26}{}", "fault", self.fault_text())?;
        writeln!(
            out,
            "{:<26}{} acknowledged objects ({} written before the fault)",
            "ledger", self.ledger_objects, self.dataset_objects
        )?;
        writeln!(out)?;
        writeln!(out, "{:<26}{:<24}during the fault", "", "before the fault")?;
        let (b, f) = (&self.baseline, &self.during_fault);
        let row = |out: &mut String, label: &str, a: String, b: String| {
            writeln!(out, "{label:<26}{a:<24}{b}")
        };
        row(out, "duration", secs(b.seconds), secs(f.seconds))?;
        row(out, "reads", attempts(&b.reads), attempts(&f.reads))?;
        row(
            out,
            "  wrong bodies",
            b.reads.wrong_bodies.to_string(),
            f.reads.wrong_bodies.to_string(),
        )?;
        row(
            out,
            "  latency p50 / p99",
            p50_p99(&b.reads.latency),
            p50_p99(&f.reads.latency),
        )?;
        row(out, "writes", attempts(&b.writes), attempts(&f.writes))?;
        row(
            out,
            "  latency p50 / p99",
            p50_p99(&b.writes.latency),
            p50_p99(&f.writes.latency),
        )?;
        writeln!(out)?;
        let detect = match self.time_to_detect_secs {
            Some(s) => format!("{s:.1} s after the fault"),
            None if self.faults.kill.is_empty() && self.faults.freeze.is_empty() => {
                "no fault".to_owned()
            }
            None if self.faults.kill.is_empty() => "not reported down before the thaw".to_owned(),
            None => "never reported down".to_owned(),
        };
        writeln!(out, "{:<26}{detect}", "time to detect")?;
        let r = &self.repair;
        let back = match (r.completed, r.time_to_full_redundancy_secs) {
            (true, Some(s)) => format!("{s:.1} s after the fault"),
            (true, None) => "yes".to_owned(),
            (false, _) if r.timed_out => "NO: timed out".to_owned(),
            (false, _) => "NO".to_owned(),
        };
        writeln!(out, "{:<26}{back}", "back to full redundancy")?;
        writeln!(
            out,
            "{:<26}{} stripes degraded ({}), {} unreadable",
            "  worst seen",
            r.max_degraded_stripes,
            bytes(r.max_degraded_bytes),
            r.max_unreadable_stripes
        )?;
        let repaired = r
            .bytes_repaired
            .map_or_else(|| "not reported by the cluster".to_owned(), bytes);
        writeln!(out, "{:<26}{repaired}", "  bytes repaired")?;
        if r.status_errors > 0 {
            writeln!(out, "{:<26}{}", "  status polls failed", r.status_errors)?;
        }
        if let Some(rs) = &self.restart {
            let text = match (rs.completed, rs.secs, &rs.error) {
                (true, Some(s), _) => format!("killed nodes up again {s:.1} s after the restart"),
                (true, None, _) => "killed nodes up again".to_owned(),
                (false, _, Some(e)) => format!("FAILED: {e}"),
                (false, _, None) => "FAILED: not up in time".to_owned(),
            };
            writeln!(out, "{:<26}{text}", "restart")?;
        }
        let v = &self.verification;
        writeln!(
            out,
            "{:<26}{} objects read back whole: {} lost, {} wrong bodies, {} right only on a retry",
            "verification", v.checked, v.lost, v.wrong_bodies, v.recovered_on_retry
        )?;
        for example in &v.lost_examples {
            writeln!(out, "  lost: {example}")?;
        }
        let samples = [
            ("before the fault, read", &b.reads),
            ("before the fault, write", &b.writes),
            ("during the fault, read", &f.reads),
            ("during the fault, write", &f.writes),
        ];
        for (label, op) in samples {
            for e in &op.sample_errors {
                writeln!(out, "  {label}: {e}")?;
            }
        }
        writeln!(out)?;
        if self.passed {
            writeln!(out, "PASSED")?;
        } else {
            writeln!(out, "FAILED: {}", self.failures.join("; "))?;
        }
        Ok(())
    }

    fn fault_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.faults.kill.is_empty() {
            parts.push(format!("kill {}", self.faults.kill.join(", ")));
        }
        if !self.faults.freeze.is_empty() {
            let mut s = format!("freeze {}", self.faults.freeze.join(", "));
            if let Some(d) = self.faults.freeze_for_secs {
                let _ = write!(s, " for {d:.0} s");
            }
            parts.push(s);
        }
        if parts.is_empty() {
            "none (traffic and verification only)".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

fn secs(s: f64) -> String {
    format!("{s:.1} s")
}

fn attempts(op: &OpReport) -> String {
    format!("{} ({} failed)", op.attempted, op.failed)
}

fn p50_p99(l: &LatencySummary) -> String {
    match (l.p50_ms, l.p99_ms) {
        (Some(a), Some(b)) => format!("{a:.1} / {b:.1} ms"),
        _ => "-".to_owned(),
    }
}

fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Report {
        let mut r = Report {
            bucket: "drill".into(),
            key_prefix: "drill-1".into(),
            faults: FaultPlan {
                kill: vec![],
                freeze: vec!["node-2".into()],
                freeze_for_secs: Some(30.0),
            },
            ledger_objects: 230,
            dataset_objects: 200,
            time_to_detect_secs: Some(5.4),
            repair: RepairReport {
                completed: true,
                time_to_full_redundancy_secs: Some(31.0),
                max_degraded_stripes: 120,
                max_degraded_bytes: 3 << 20,
                ..RepairReport::default()
            },
            verification: VerificationReport {
                checked: 230,
                ..VerificationReport::default()
            },
            ..Report::default()
        };
        r.baseline.reads.attempted = 100;
        r.during_fault.reads.attempted = 300;
        r.during_fault.reads.failed = 2;
        r.during_fault.reads.latency = LatencySummary {
            samples: 298,
            p50_ms: Some(4.3),
            p99_ms: Some(410.0),
            max_ms: Some(900.0),
        };
        r.judge();
        r
    }

    #[test]
    fn a_clean_drill_passes_and_says_so() {
        let r = passing();
        assert!(r.passed, "{:?}", r.failures);
        assert_eq!(r.totals.reads_attempted, 400);
        assert_eq!(r.totals.reads_failed, 2);
        let text = r.to_text();
        assert!(text.contains("freeze node-2 for 30 s"), "{text}");
        assert!(text.contains("4.3 / 410.0 ms"), "{text}");
        assert!(
            text.contains("time to detect            5.4 s after the fault"),
            "{text}"
        );
        assert!(text.contains("back to full redundancy   31.0 s"), "{text}");
        assert!(text.contains("3.0 MiB"), "{text}");
        assert!(text.contains("not reported by the cluster"), "{text}");
        assert!(text.trim_end().ends_with("PASSED"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["passed"], true);
        assert_eq!(json["during_fault"]["reads"]["latency"]["p99_ms"], 410.0);
        assert_eq!(json["repair"]["bytes_repaired"], serde_json::Value::Null);
    }

    #[test]
    fn loss_wrong_bytes_and_no_repair_fail_the_drill() {
        let mut r = passing();
        r.verification.lost = 1;
        r.verification.lost_examples = vec!["drill-1/000007: 404".into()];
        r.during_fault.reads.wrong_bodies = 1;
        r.repair.completed = false;
        r.repair.timed_out = true;
        r.faults.kill = vec!["node-3".into()];
        r.time_to_detect_secs = None;
        r.restart = Some(RestartReport {
            completed: false,
            secs: None,
            error: Some("no supervisor".into()),
        });
        r.judge();
        assert!(!r.passed);
        assert_eq!(r.failures.len(), 5, "{:?}", r.failures);
        let text = r.to_text();
        assert!(text.contains("lost: drill-1/000007: 404"), "{text}");
        assert!(text.contains("NO: timed out"), "{text}");
        assert!(text.contains("never reported down"), "{text}");
        assert!(
            text.contains("FAILED: 1 acknowledged objects lost"),
            "{text}"
        );
    }
}
