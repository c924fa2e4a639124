//! Query budgets (see `shared/engine/src/query/budget.rs`): what one read may spend on this
//! worker, and how many reads it runs at once.
//!
//! - A deadline per read: the worker's default, or the request's `timeout_ms` when it asks
//!   for no more than the worker's maximum (more is a 400). Past it: 408 `query_timeout`.
//! - A row budget: rows a read may hold in memory while it runs (result rows, groups,
//!   rows to sort). Over it: 422 `row_budget_exceeded`.
//! - A result cap for reads without `limit`. Over it: 422 `result_too_large`.
//! - Reads in flight per worker. Over it: 429 `too_many_reads` with `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use omnigraph_api::ErrorCode;
use omnigraph_engine::QueryBudget;
use omnigraph_http::ApiError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub const QUERY_TIMEOUT_MS_ENV: &str = "OMNIGRAPH_QUERY_TIMEOUT_MS";
pub const MAX_QUERY_TIMEOUT_MS_ENV: &str = "OMNIGRAPH_MAX_QUERY_TIMEOUT_MS";
pub const MAX_QUERY_ROWS_ENV: &str = "OMNIGRAPH_MAX_QUERY_ROWS";
pub const MAX_RESULT_ROWS_WITHOUT_LIMIT_ENV: &str = "OMNIGRAPH_MAX_RESULT_ROWS_WITHOUT_LIMIT";
pub const MAX_CONCURRENT_READS_ENV: &str = "OMNIGRAPH_MAX_CONCURRENT_READS";

pub const DEFAULT_QUERY_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MAX_QUERY_TIMEOUT_MS: u64 = 300_000;
pub const DEFAULT_MAX_QUERY_ROWS: usize = 1_000_000;
pub const DEFAULT_MAX_RESULT_ROWS_WITHOUT_LIMIT: usize = 100_000;
pub const DEFAULT_MAX_CONCURRENT_READS: usize = 64;
/// What a refused reader is told to wait, in seconds.
const RETRY_AFTER_SECONDS: u64 = 1;

/// The worker's query limits, as configured at start.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub default_timeout: Duration,
    pub max_timeout: Duration,
    pub max_rows: usize,
    pub max_result_rows_without_limit: usize,
    pub max_concurrent_reads: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            default_timeout: Duration::from_millis(DEFAULT_QUERY_TIMEOUT_MS),
            max_timeout: Duration::from_millis(DEFAULT_MAX_QUERY_TIMEOUT_MS),
            max_rows: DEFAULT_MAX_QUERY_ROWS,
            max_result_rows_without_limit: DEFAULT_MAX_RESULT_ROWS_WITHOUT_LIMIT,
            max_concurrent_reads: DEFAULT_MAX_CONCURRENT_READS,
        }
    }
}

impl QueryLimits {
    /// The budget of one read that asked for `timeout_ms` (or nothing).
    pub fn budget(&self, timeout_ms: Option<u64>) -> Result<QueryBudget, ApiError> {
        let timeout = match timeout_ms {
            None => self.default_timeout,
            Some(0) => return Err(ApiError::bad_request("`timeout_ms` must be at least 1")),
            Some(ms) if Duration::from_millis(ms) > self.max_timeout => {
                return Err(ApiError::bad_request(format!(
                    "`timeout_ms` is {ms}, over this worker's maximum of {} ms",
                    self.max_timeout.as_millis()
                )))
            }
            Some(ms) => Duration::from_millis(ms),
        };
        Ok(QueryBudget::new(
            Some(timeout),
            Some(self.max_rows),
            Some(self.max_result_rows_without_limit),
        ))
    }
}

/// The cap on reads in flight on this worker.
#[derive(Debug)]
pub struct ReadAdmission {
    cap: usize,
    slots: Arc<Semaphore>,
}

impl ReadAdmission {
    pub fn new(cap: usize) -> ReadAdmission {
        let cap = cap.max(1);
        ReadAdmission {
            cap,
            slots: Arc::new(Semaphore::new(cap)),
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Reads holding a slot now.
    pub fn in_flight(&self) -> usize {
        self.cap.saturating_sub(self.slots.available_permits())
    }

    /// A slot for one more read, or 429 `too_many_reads` when all are taken. The slot is
    /// given back when the permit is dropped, however the read ends.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            tracing::info!(cap = self.cap, "read refused: too many in flight");
            ApiError::new(
                ErrorCode::TooManyReads,
                format!(
                    "this worker runs {} reads at once, the most it allows \
                     (max_concurrent_reads); retry after {RETRY_AFTER_SECONDS} s",
                    self.cap
                ),
            )
            .with_retry_after(RETRY_AFTER_SECONDS)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_may_ask_for_less_time_but_not_more_than_the_maximum() {
        let limits = QueryLimits {
            max_timeout: Duration::from_millis(1000),
            ..QueryLimits::default()
        };
        assert_eq!(
            limits.budget(None).expect("default").timeout,
            Some(limits.default_timeout)
        );
        assert_eq!(
            limits.budget(Some(50)).expect("less").timeout,
            Some(Duration::from_millis(50))
        );
        let over = limits.budget(Some(1001)).expect_err("over the maximum");
        assert_eq!(over.code(), ErrorCode::BadRequest);
        assert!(over.message().contains("1000 ms"), "{}", over.message());
        assert_eq!(
            limits.budget(Some(0)).expect_err("zero").code(),
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn reads_over_the_cap_get_429_and_slots_come_back() {
        let reads = ReadAdmission::new(2);
        let a = reads.admit().expect("first");
        let _b = reads.admit().expect("second");
        let refused = reads.admit().expect_err("third");
        assert_eq!(refused.code(), ErrorCode::TooManyReads);
        assert_eq!(refused.status().as_u16(), 429);
        assert_eq!(refused.retry_after_secs(), Some(RETRY_AFTER_SECONDS));
        drop(a);
        let _c = reads.admit().expect("a slot came back");
    }
}
