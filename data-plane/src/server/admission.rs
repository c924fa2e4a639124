//! Admission control (docs/architecture.md, section 3): a cap on the writes one actor has in flight on
//! this worker. A write over the cap answers 429 with `Retry-After` before the handler
//! reads or writes anything; reads are never capped.
//!
//! The cap is per worker process: workers share no state, so an actor spread over N
//! workers by a load balancer may have up to N times the cap in flight in all. Writes to
//! one graph end up serialized by the manifest compare-and-swap anyway; the cap keeps one
//! actor's burst from holding every connection and core of a worker while it waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use omnigraph_http::ApiError;

/// Environment variable (and `serve --max-writes-per-actor`) setting the cap.
pub const MAX_WRITES_PER_ACTOR_ENV: &str = "OMNIGRAPH_MAX_WRITES_PER_ACTOR";
/// The cap when none is configured.
pub const DEFAULT_MAX_WRITES_PER_ACTOR: usize = 16;
/// What a refused caller is told to wait, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// In-flight writes per actor on this worker.
#[derive(Debug)]
pub struct Admission {
    cap: usize,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

/// One admitted write; its slot is given back when it is dropped (the handler returned,
/// failed, or its connection went away).
#[derive(Debug)]
pub struct WritePermit {
    actor: String,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
}

impl Admission {
    /// `cap` writes in flight per actor (at least 1).
    pub fn new(cap: usize) -> Self {
        Admission {
            cap: cap.max(1),
            in_flight: Arc::default(),
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Writes in flight on this worker, every actor's.
    pub fn in_flight_total(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    /// A slot for one more write of `actor`, or 429 when it has `cap` in flight already.
    pub fn admit(&self, actor: &str) -> Result<WritePermit, ApiError> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = in_flight.entry(actor.to_owned()).or_default();
        if *count >= self.cap {
            tracing::info!(actor, cap = self.cap, "write refused: too many in flight");
            return Err(ApiError::too_many_requests(
                format!(
                    "actor '{actor}' has {} writes in flight on this worker, the most allowed; \
                     retry after {RETRY_AFTER_SECONDS} s",
                    self.cap
                ),
                RETRY_AFTER_SECONDS,
            ));
        }
        *count += 1;
        Ok(WritePermit {
            actor: actor.to_owned(),
            in_flight: self.in_flight.clone(),
        })
    }

    /// Writes of `actor` in flight now.
    #[cfg(test)]
    pub fn in_flight(&self, actor: &str) -> usize {
        let in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        in_flight.get(actor).copied().unwrap_or(0)
    }
}

impl Drop for WritePermit {
    fn drop(&mut self) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.actor) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(&self.actor);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnigraph_api::ErrorCode;

    #[test]
    fn caps_each_actor_separately_and_frees_slots_on_drop() {
        let admission = Admission::new(2);
        let a1 = admission.admit("a").expect("first");
        let _a2 = admission.admit("a").expect("second");
        let refused = admission.admit("a").expect_err("third is over the cap");
        assert_eq!(refused.code(), ErrorCode::TooManyRequests);
        assert_eq!(refused.retry_after_secs(), Some(RETRY_AFTER_SECONDS));
        assert!(refused.message().contains("'a'"), "{}", refused.message());
        // Another actor is not affected.
        let _b = admission.admit("b").expect("other actor");
        assert_eq!(admission.in_flight("a"), 2);
        drop(a1);
        assert_eq!(admission.in_flight("a"), 1);
        let _a3 = admission.admit("a").expect("a slot was given back");
    }

    #[test]
    fn a_cap_of_zero_means_one() {
        let admission = Admission::new(0);
        assert_eq!(admission.cap(), 1);
        let p = admission.admit("a").expect("one");
        assert!(admission.admit("a").is_err());
        drop(p);
        assert_eq!(admission.in_flight("a"), 0);
        assert!(admission.admit("a").is_ok());
    }
}
