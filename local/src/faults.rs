//! Fault injection for the local runtime (off by default): make tasks fail the way real
//! partners do, to see the saga's retries, idempotency and compensations at work.
//!
//! `FAULTS=State:Error:probability[:after][:retry],...`, for example
//! `FAULTS=ChargePayment:Transient:0.3:after,ShipOrder:Transient:0.2`. A fault fails the task of
//! state `State` with error `Error` (the same name a real failure has) with the given
//! probability. With `after`, the task runs first and only its answer is lost: the side effect
//! happened, which is exactly the case idempotency exists for. With `retry`, the fault strikes
//! only a retry (never a state's first attempt): `ChargePayment:PaymentDeclined:0.5:retry` next
//! to `ChargePayment:Transient:0.3:after` is a decline arriving after an earlier attempt charged
//! the card and lost its answer, the case compensations must decide by facts. `FAULT_SEED` makes the draws
//! repeatable: each is a function of the seed, the execution, the state and the attempt, so the
//! same order meets the same faults whatever the scheduling.

use std::hash::{Hash, Hasher};

use anyhow::{Context, bail};

/// When an injected fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// The task does not run.
    Before,
    /// The task runs; its answer is lost.
    After,
}

/// One `State:Error:probability[:after][:retry]` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub state: String,
    pub error: String,
    pub probability: f64,
    pub timing: Timing,
    /// Strikes only retries: a permanent failure that follows an earlier attempt's lost answer.
    pub retries_only: bool,
}

/// The faults to inject, and the seed of their draws.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    rules: Vec<Fault>,
    seed: u64,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses the `FAULTS` syntax.
    pub fn parse(spec: &str, seed: u64) -> anyhow::Result<Self> {
        let mut rules = Vec::new();
        for rule in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let mut parts: Vec<&str> = rule.split(':').collect();
            let retries_only = parts.len() > 3 && parts.last() == Some(&"retry");
            if retries_only {
                parts.pop();
            }
            let (state, error, probability, timing) = match parts.as_slice() {
                [state, error, probability] | [state, error, probability, "before"] => {
                    (state, error, probability, Timing::Before)
                }
                [state, error, probability, "after"] => (state, error, probability, Timing::After),
                _ => bail!("fault `{rule}` is not State:Error:probability[:after][:retry]"),
            };
            let probability: f64 =
                probability.parse().with_context(|| format!("fault `{rule}`: `{probability}` is not a probability"))?;
            if !(0.0..=1.0).contains(&probability) || state.is_empty() || error.is_empty() {
                bail!("fault `{rule}`: the probability must be within 0..=1 and State and Error non-empty");
            }
            rules.push(Fault {
                state: (*state).to_owned(),
                error: (*error).to_owned(),
                probability,
                timing,
                retries_only,
            });
        }
        Ok(Self { rules, seed })
    }

    /// The fault, if any, that strikes attempt `attempt` (0 for the first) of state `state` in
    /// `execution`.
    pub fn draw(&self, execution: &str, state: &str, attempt: u32) -> Option<&Fault> {
        self.rules.iter().enumerate().find_map(|(index, fault)| {
            if fault.state != state || (fault.retries_only && attempt == 0) {
                return None;
            }
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (self.seed, index, execution, state, attempt).hash(&mut hasher);
            // The top 53 bits as a uniform number in [0, 1).
            #[allow(clippy::cast_precision_loss)]
            let draw = (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64;
            (draw < fault.probability).then_some(fault)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_syntax_parses() {
        let faults = Faults::parse("ChargePayment:Transient:0.3:after, ShipOrder:Transient:0.2", 7).unwrap();
        assert_eq!(faults.rules.len(), 2);
        assert_eq!(faults.rules[0].timing, Timing::After);
        assert_eq!(faults.rules[1].timing, Timing::Before);
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in ["ChargePayment", "A:B:2", "A:B:x", "A:B:0.5:later", ":B:0.5", "A:B:retry", "A:B:0.5:retry:after"] {
            assert!(Faults::parse(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_retry_fault_never_strikes_a_first_attempt_and_strikes_every_retry() {
        let faults =
            Faults::parse("ChargePayment:PaymentDeclined:1:retry, ShipOrder:CarrierUnavailable:1:after:retry", 3)
                .unwrap();
        assert_eq!(faults.rules[0].timing, Timing::Before);
        assert_eq!(faults.rules[1].timing, Timing::After);
        for (execution, state) in
            (0..100).flat_map(|i| [(format!("ord_{i}"), "ChargePayment"), (format!("ord_{i}"), "ShipOrder")])
        {
            assert!(faults.draw(&execution, state, 0).is_none(), "{state} of {execution} struck on its first attempt");
            for attempt in 1..9 {
                assert!(faults.draw(&execution, state, attempt).is_some_and(|f| f.retries_only));
            }
        }
    }

    #[test]
    fn draws_are_repeatable_and_follow_the_probability() {
        let faults = Faults::parse("ChargePayment:Transient:0.25", 42).unwrap();
        let hits = (0..10_000).filter(|i| faults.draw(&format!("ord_{i}"), "ChargePayment", 0).is_some()).count();
        assert!((2_200..2_800).contains(&hits), "{hits} hits in 10 000 draws at 25%");
        assert_eq!(faults.draw("ord_1", "ChargePayment", 3), faults.draw("ord_1", "ChargePayment", 3));
        assert!(faults.draw("ord_1", "ShipOrder", 0).is_none());
    }
}
