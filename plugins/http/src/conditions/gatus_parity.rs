//! Gatus's own condition cases (`gatus_cases.json`, copied from its tests)
//! run through bosun: every case gives Gatus's verdict, except the ones
//! `bosun_differs` lists, which bosun refuses (or accepts) on purpose.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Observed, parse};

#[derive(Deserialize)]
struct Cases {
    bosun_differs: BTreeMap<String, Differs>,
    validate: Vec<Validate>,
    evaluate: Vec<Evaluate>,
    bench: Vec<Evaluate>,
}

#[derive(Deserialize)]
struct Differs {
    /// `refuses` or `accepts` the condition at load.
    bosun: String,
}

#[derive(Deserialize)]
struct Validate {
    condition: String,
    valid: bool,
}

#[derive(Deserialize)]
struct Evaluate {
    name: String,
    condition: String,
    result: GatusResult,
    success: bool,
}

/// The fields of Gatus's `Result` the cases set; unset ones are Go's zero.
#[derive(Deserialize, Default)]
#[serde(default)]
struct GatusResult {
    status: u16,
    response_time_ms: u64,
    body: String,
    connected: Option<bool>,
    certificate_expiration_ms: i64,
}

impl GatusResult {
    /// What bosun's http plugin would have observed. A zero certificate time is
    /// what the plugin reads on plain http, as Gatus does.
    fn observed(&self) -> Observed<'_> {
        if self.connected == Some(false) {
            return Observed { error: Some("connection refused"), certificate_expiration_ms: Some(Ok(0)), ..Default::default() };
        }
        Observed {
            status: Some(self.status),
            response_time_ms: Some(self.response_time_ms),
            headers: &[],
            body: Some(&self.body),
            error: None,
            certificate_expiration_ms: Some(Ok(self.certificate_expiration_ms)),
        }
    }
}

#[test]
fn gatus_condition_cases_give_gatus_verdicts_except_where_bosun_differs_on_purpose() {
    let cases: Cases = bosun_sdk::serde_json::from_str(include_str!("gatus_cases.json")).expect("gatus_cases.json parses");
    let differs = |condition: &str| cases.bosun_differs.get(condition).map(|d| d.bosun.as_str());
    let (mut agree, mut total, mut disagreements) = (0, 0, Vec::new());

    for case in &cases.validate {
        total += 1;
        let accepted = parse(&case.condition).is_ok();
        match differs(&case.condition) {
            Some(bosun) => assert_eq!(accepted, bosun == "accepts", "{}: bosun {bosun} it", case.condition),
            None if accepted == case.valid => agree += 1,
            None => disagreements.push(format!("validate `{}`: Gatus valid={}, bosun accepts={accepted}", case.condition, case.valid)),
        }
    }
    for case in cases.evaluate.iter().chain(&cases.bench) {
        total += 1;
        match (differs(&case.condition), parse(&case.condition)) {
            (Some(bosun), parsed) => assert_eq!(parsed.is_ok(), bosun == "accepts", "{}: bosun {bosun} `{}`", case.name, case.condition),
            (None, Err(e)) => disagreements.push(format!("{}: `{}` refused: {e}", case.name, case.condition)),
            (None, Ok(condition)) => {
                let outcome = condition.evaluate(&case.result.observed());
                if outcome.passed == case.success {
                    agree += 1;
                } else {
                    disagreements.push(format!("{}: `{}` Gatus success={}, bosun {outcome:?}", case.name, case.condition, case.success));
                }
            }
        }
    }
    let deliberate = total - agree - disagreements.len();
    eprintln!("Gatus parity: {agree} of {total} cases agree, {deliberate} differ on purpose (bosun_differs), {} disagree", disagreements.len());
    assert!(disagreements.is_empty(), "bosun disagrees with Gatus:\n{}", disagreements.join("\n"));
}
