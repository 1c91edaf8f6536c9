//! `Retry` and `Catch`: which retrier or catcher handles an error, and how long to wait.

use std::sync::Arc;
use std::time::Duration;

use crate::errors::StateError;
use crate::paths::ResultPath;

/// `JitterStrategy` of a retrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Wait exactly the computed delay (the default).
    #[default]
    None,
    /// Wait a random time in `[0, delay]`.
    Full,
}

/// One entry of a state's `Retry`.
#[derive(Debug, Clone)]
pub struct Retrier {
    /// The error names this retrier handles.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: u64,
    /// `MaxAttempts` (default 3; 0 means never retry).
    pub max_attempts: u32,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`: a cap on any single delay.
    pub max_delay_seconds: Option<u64>,
    /// `JitterStrategy`.
    pub jitter: Jitter,
}

impl Default for Retrier {
    fn default() -> Self {
        Self {
            error_equals: Vec::new(),
            interval_seconds: 1,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_seconds: None,
            jitter: Jitter::None,
        }
    }
}

impl Retrier {
    /// The delay before retry number `retries_done + 1`:
    /// `IntervalSeconds × BackoffRate^retries_done`, capped by `MaxDelaySeconds`, then jittered.
    pub fn delay(&self, retries_done: u32, random_unit: impl FnOnce() -> f64) -> Duration {
        let exponent = i32::try_from(retries_done).unwrap_or(i32::MAX);
        #[allow(clippy::cast_precision_loss)]
        let mut seconds = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        if let Some(cap) = self.max_delay_seconds {
            #[allow(clippy::cast_precision_loss)]
            let cap = cap as f64;
            seconds = seconds.min(cap);
        }
        if self.jitter == Jitter::Full {
            seconds *= random_unit().clamp(0.0, 1.0);
        }
        // Keep far-future delays representable (about 31 years).
        Duration::from_secs_f64(seconds.clamp(0.0, 1.0e9))
    }
}

/// One entry of a state's `Catch`.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// The error names this catcher handles.
    pub error_equals: Vec<String>,
    /// The state to go to.
    pub next: Arc<str>,
    /// Where the error output goes in the state input (default `$`: it replaces the input).
    pub result_path: ResultPath,
}

/// What to do with a state's error.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Retry after `delay`, counting the attempt against retrier `retrier`.
    Retry {
        /// Index of the retrier in `Retry`.
        retrier: usize,
        /// How long to wait.
        delay: Duration,
    },
    /// Hand the error to catcher `catcher`.
    Catch {
        /// Index of the catcher in `Catch`.
        catcher: usize,
    },
    /// Fail the state.
    Fail,
}

/// Decides how a state handles `error`, given how many times each retrier already retried.
///
/// The first retrier whose `ErrorEquals` matches decides alone: once its attempts are used up the
/// error goes to the catchers, never to a later retrier.
pub fn decide(
    error: &StateError,
    retriers: &[Retrier],
    attempts: &[u32],
    catchers: &[Catcher],
    random_unit: impl FnOnce() -> f64,
) -> Decision {
    if let Some(index) = retriers.iter().position(|r| error.is_matched_by(&r.error_equals)) {
        let done = attempts.get(index).copied().unwrap_or(0);
        let retrier = &retriers[index];
        if done < retrier.max_attempts {
            return Decision::Retry { retrier: index, delay: retrier.delay(done, random_unit) };
        }
    }
    match catchers.iter().position(|c| error.is_matched_by(&c.error_equals)) {
        Some(catcher) => Decision::Catch { catcher },
        None => Decision::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(errors: &[&str]) -> Retrier {
        Retrier { error_equals: errors.iter().map(ToString::to_string).collect(), ..Retrier::default() }
    }

    fn catcher(errors: &[&str], next: &str) -> Catcher {
        Catcher {
            error_equals: errors.iter().map(ToString::to_string).collect(),
            next: Arc::from(next),
            result_path: ResultPath::Replace,
        }
    }

    fn error(name: &str) -> StateError {
        StateError::new(name, "boom")
    }

    #[test]
    fn the_defaults_are_one_second_three_attempts_and_doubling() {
        let r = Retrier::default();
        assert_eq!((r.interval_seconds, r.max_attempts, r.backoff_rate), (1, 3, 2.0));
        assert_eq!(r.delay(0, || 0.5), Duration::from_secs(1));
        assert_eq!(r.delay(1, || 0.5), Duration::from_secs(2));
        assert_eq!(r.delay(2, || 0.5), Duration::from_secs(4));
    }

    #[test]
    fn max_delay_seconds_caps_the_backoff() {
        let r = Retrier { interval_seconds: 10, backoff_rate: 3.0, max_delay_seconds: Some(50), ..retrier(&["E"]) };
        assert_eq!(r.delay(1, || 0.0), Duration::from_secs(30));
        assert_eq!(r.delay(2, || 0.0), Duration::from_secs(50));
    }

    #[test]
    fn full_jitter_scales_the_delay_by_a_random_fraction() {
        let r = Retrier { interval_seconds: 8, jitter: Jitter::Full, ..retrier(&["E"]) };
        assert_eq!(r.delay(0, || 0.25), Duration::from_secs(2));
        assert_eq!(r.delay(0, || 0.0), Duration::ZERO);
        assert_eq!(r.delay(0, || 1.0), Duration::from_secs(8));
    }

    #[test]
    fn a_retrier_with_max_attempts_zero_never_retries() {
        let retriers = [Retrier { max_attempts: 0, ..retrier(&["E"]) }];
        assert_eq!(decide(&error("E"), &retriers, &[0], &[], || 0.0), Decision::Fail);
    }

    #[test]
    fn the_first_matching_retrier_counts_its_own_attempts() {
        let retriers = [retrier(&["A"]), retrier(&["B"])];
        let decision = decide(&error("B"), &retriers, &[3, 1], &[], || 0.0);
        assert_eq!(decision, Decision::Retry { retrier: 1, delay: Duration::from_secs(2) });
    }

    #[test]
    fn an_exhausted_retrier_hands_over_to_the_catchers_not_to_later_retriers() {
        let retriers = [retrier(&["E"]), retrier(&["States.ALL"])];
        let catchers = [catcher(&["Other"], "X"), catcher(&["States.ALL"], "Y")];
        assert_eq!(decide(&error("E"), &retriers, &[3, 0], &catchers, || 0.0), Decision::Catch { catcher: 1 });
    }

    #[test]
    fn a_runtime_error_is_neither_retried_nor_caught() {
        let retriers = [retrier(&["States.ALL"])];
        let catchers = [catcher(&["States.ALL"], "Y")];
        assert_eq!(decide(&error("States.Runtime"), &retriers, &[0], &catchers, || 0.0), Decision::Fail);
    }
}
