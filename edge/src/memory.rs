//! How much memory this machine (or container) gives the edge, for the
//! default size of the shard cache.

/// Used when the machine's memory cannot be read.
const FALLBACK_CACHE: u64 = 256 * 1024 * 1024;

/// A quarter of the memory available to the process: the cache fills to
/// its bound under load, and the rest stays for connections, read-ahead
/// buffers and the page cache of other services on the machine.
pub fn default_cache_size() -> u64 {
    available_memory().map_or(FALLBACK_CACHE, |bytes| bytes / 4)
}

/// The machine's memory, or the container's limit when that is lower.
fn available_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    match (total, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_total() {
        let text = "MemTotal:       24576000 kB\nMemFree:        1000 kB\n";
        assert_eq!(mem_total(text), Some(24_576_000 * 1024));
        assert_eq!(mem_total("nonsense"), None);
    }
}
