//! `/metrics` read by Prometheus' own parser: the official Python client's
//! OpenMetrics parser (Debian's python3-prometheus-client, installed by
//! scripts/setup), which refuses text Prometheus would not take.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

pub struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

const PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
samples = [[s.name, s.labels, s.value] for family in text_string_to_metric_families(sys.stdin.read()) for s in family.samples]
print(json.dumps(samples))
"#;

impl Samples {
    /// Every sample of `text`; a text the parser refuses fails the test.
    pub fn parse(text: &str) -> Samples {
        let mut child = Command::new("/usr/bin/python3").args(["-c", PARSE]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("/usr/bin/python3 (scripts/setup installs it)");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "Prometheus' parser refused the text: {}\n{text}", String::from_utf8_lossy(&out.stderr));
        Samples(serde_json::from_slice(&out.stdout).unwrap())
    }

    /// The value of sample `name` whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0.iter().find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))).map(|s| s.2)
    }
}
