//! Latency percentiles for the drill report. Nearest rank on the sorted
//! samples: a p99 of 100 samples is the 99th slowest one actually seen,
//! never an interpolation between two requests that both happened.

use std::time::Duration;

use serde::Serialize;

/// The `p`-quantile (0.0..=1.0) of `sorted` by nearest rank, or `None`
/// without samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// What the report shows of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub samples: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl LatencySummary {
    pub fn of(latencies: &[Duration]) -> Self {
        let mut sorted = latencies.to_vec();
        sorted.sort_unstable();
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
        LatencySummary {
            samples: sorted.len(),
            p50_ms: ms(percentile(&sorted, 0.50)),
            p99_ms: ms(percentile(&sorted, 0.99)),
            max_ms: ms(sorted.last().copied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.50), Some(ms(50)));
        assert_eq!(percentile(&sorted, 0.99), Some(ms(99)));
        assert_eq!(percentile(&sorted, 1.0), Some(ms(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(ms(1)));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[ms(7)], 0.99), Some(ms(7)));
        // Two samples: the median is the faster one, p99 the slower.
        assert_eq!(percentile(&[ms(1), ms(9)], 0.5), Some(ms(1)));
        assert_eq!(percentile(&[ms(1), ms(9)], 0.99), Some(ms(9)));
    }

    #[test]
    fn summary_sorts_its_input() {
        let s = LatencySummary::of(&[ms(30), ms(10), ms(20)]);
        assert_eq!(s.samples, 3);
        assert_eq!(s.p50_ms, Some(20.0));
        assert_eq!(s.p99_ms, Some(30.0));
        assert_eq!(s.max_ms, Some(30.0));
        assert_eq!(LatencySummary::of(&[]), LatencySummary::default());
    }
}
