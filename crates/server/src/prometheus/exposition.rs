//! Prometheus' text exposition format (0.0.4), as ZooKeeper's provider (simpleclient 0.9)
//! writes it: `# HELP` and `# TYPE` lines, then the samples; a summary without quantiles has
//! only its `_count` and `_sum`. Values print as floats (`5.0`), as the Java client does.

use std::fmt::Write as _;

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
    Summary,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Summary => "summary",
        }
    }
}

/// The page being written.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    text: String,
}

impl Exposition {
    fn header(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.word());
    }

    fn sample(&mut self, name: &str, value: f64) {
        let _ = writeln!(self.text, "{name} {}", number(value));
    }

    pub(crate) fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.header(name, help, Kind::Gauge);
        self.sample(name, value);
    }

    pub(crate) fn counter(&mut self, name: &str, help: &str, value: f64) {
        self.header(name, help, Kind::Counter);
        self.sample(name, value);
    }

    /// A summary of `count` observations adding up to `sum`.
    pub(crate) fn summary(&mut self, name: &str, help: &str, count: u64, sum: f64) {
        self.header(name, help, Kind::Summary);
        self.sample(&format!("{name}_count"), count as f64);
        self.sample(&format!("{name}_sum"), sum);
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// Java's `Double.toString` for the values metrics take: integers keep a `.0`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_like_the_java_client() {
        let mut page = Exposition::default();
        page.gauge("znode_count", "znode_count", 5.0);
        page.counter("connection_rejected", "connection_rejected", 0.0);
        page.summary("fsynctime", "fsynctime", 2, 1.5);
        assert_eq!(
            page.finish(),
            "# HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 5.0\n\
             # HELP connection_rejected connection_rejected\n\
             # TYPE connection_rejected counter\nconnection_rejected 0.0\n\
             # HELP fsynctime fsynctime\n# TYPE fsynctime summary\nfsynctime_count 2.0\n\
             fsynctime_sum 1.5\n"
        );
        assert_eq!(number(0.25), "0.25");
    }
}
