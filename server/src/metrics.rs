//! Prometheus text exposition, hand-written (a few counters and histograms do not need a
//! metrics crate): requests and latency by matched route, outcomes by code, database latency,
//! write batch sizes and SQLite busy waits. Labels are route templates and codes, never a
//! query string, a path parameter or a token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Clone, Debug)]
struct Histogram {
    buckets: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: &'static [f64]) -> Self {
        Histogram {
            buckets,
            counts: vec![0; buckets.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        for (i, b) in self.buckets.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.buckets.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Series {
    /// (method, route, status) → count
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → latency
    latency: BTreeMap<(String, String), Histogram>,
    /// (interface, code) → count
    outcomes: BTreeMap<(&'static str, String), u64>,
    /// "read" / "write" → latency
    db: BTreeMap<&'static str, Histogram>,
    batches: Option<Histogram>,
}

/// The service's metrics.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    busy_waits: AtomicU64,
    retries: AtomicU64,
}

/// `"` `\` and newlines escaped for a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Series> {
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One answered request, by its route template (`unmatched` when no route matched).
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut s = self.lock();
        *s.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        s.latency
            .entry((method.to_owned(), route.to_owned()))
            .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// A rule outcome or error code answered on an interface (`plugin`, `wechat`).
    pub fn outcome(&self, interface: &'static str, code: &str) {
        *self
            .lock()
            .outcomes
            .entry((interface, code.to_owned()))
            .or_default() += 1;
    }

    pub fn db_observe(&self, op: &'static str, elapsed: Duration) {
        self.lock()
            .db
            .entry(op)
            .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    pub fn db_batch(&self, jobs: usize) {
        self.lock()
            .batches
            .get_or_insert_with(|| Histogram::new(&BATCH_BUCKETS))
            .observe(jobs as f64);
    }

    pub fn sqlite_busy_wait(&self) {
        self.busy_waits.fetch_add(1, Ordering::Relaxed);
    }

    /// A PostgreSQL transaction did not serialize and runs again.
    pub fn db_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let s = self.lock();
        let mut out = String::new();
        out.push_str("# HELP campus_voip_http_requests_total HTTP requests answered, by matched route and status.\n");
        out.push_str("# TYPE campus_voip_http_requests_total counter\n");
        for ((m, r, st), n) in &s.requests {
            let _ = writeln!(
                out,
                "campus_voip_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{st}\"}} {n}",
                escape(m),
                escape(r)
            );
        }
        out.push_str(
            "# HELP campus_voip_http_request_duration_seconds Time to answer, by matched route.\n",
        );
        out.push_str("# TYPE campus_voip_http_request_duration_seconds histogram\n");
        for ((m, r), h) in &s.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(m), escape(r));
            h.write(
                &mut out,
                "campus_voip_http_request_duration_seconds",
                &labels,
            );
        }
        out.push_str("# HELP campus_voip_outcomes_total Rule outcomes and error codes answered, by interface and code.\n");
        out.push_str("# TYPE campus_voip_outcomes_total counter\n");
        for ((i, c), n) in &s.outcomes {
            let _ = writeln!(
                out,
                "campus_voip_outcomes_total{{interface=\"{i}\",code=\"{}\"}} {n}",
                escape(c)
            );
        }
        out.push_str("# HELP campus_voip_db_duration_seconds Database call latency (a write includes waiting for its group commit).\n");
        out.push_str("# TYPE campus_voip_db_duration_seconds histogram\n");
        for (op, h) in &s.db {
            h.write(
                &mut out,
                "campus_voip_db_duration_seconds",
                &format!("op=\"{op}\""),
            );
        }
        out.push_str("# HELP campus_voip_db_write_batch_jobs Writes committed together in one transaction.\n");
        out.push_str("# TYPE campus_voip_db_write_batch_jobs histogram\n");
        if let Some(h) = &s.batches {
            h.write(&mut out, "campus_voip_db_write_batch_jobs", "");
        }
        out.push_str("# HELP campus_voip_sqlite_busy_waits_total Times a connection waited for a SQLite lock.\n");
        out.push_str("# TYPE campus_voip_sqlite_busy_waits_total counter\n");
        let _ = writeln!(
            out,
            "campus_voip_sqlite_busy_waits_total {}",
            self.busy_waits.load(Ordering::Relaxed)
        );
        out.push_str("# HELP campus_voip_db_retries_total PostgreSQL transactions run again after a serialization failure.\n");
        out.push_str("# TYPE campus_voip_db_retries_total counter\n");
        let _ = writeln!(
            out,
            "campus_voip_db_retries_total {}",
            self.retries.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_and_escapes() {
        let m = Metrics::new();
        m.request("GET", "/a\"b", 200, Duration::from_millis(3));
        m.request("GET", "/a\"b", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains(
            "campus_voip_http_requests_total{method=\"GET\",route=\"/a\\\"b\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.05\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
