//! What one read may spend: a deadline, a cap on the rows it holds in memory while it runs
//! (result rows, groups, rows waiting to be sorted), and a cap on the rows a read without
//! `limit` may return. The executor checks the budget cooperatively: every few thousand
//! steps of the enumeration and of each traversal, it looks at the clock and at a cancel
//! flag that is raised when the read's future is dropped (deadline, or the caller went
//! away), so a runaway read stops within milliseconds and gives its core back.
//!
//! The HTTP edge maps each refusal to its own 4xx code (see
//! `data-plane/src/server/error.rs`); the local command line runs with [`QueryBudget::unlimited`].

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{EngineError, Result};

/// Steps between two looks at the clock and the cancel flag.
const CHECK_EVERY: u32 = 4096;

/// The limits of one read.
#[derive(Debug, Clone)]
pub struct QueryBudget {
    /// How long the read may run, from when the budget was made.
    pub timeout: Option<Duration>,
    /// Rows the read may hold while it runs (result rows, groups, rows to sort).
    pub max_rows: Option<usize>,
    /// Rows a read without `limit` may return.
    pub max_result_rows_without_limit: Option<usize>,
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl QueryBudget {
    /// No deadline and no caps (the local command line).
    pub fn unlimited() -> QueryBudget {
        QueryBudget::new(None, None, None)
    }

    /// A budget whose deadline (if any) starts now.
    pub fn new(
        timeout: Option<Duration>,
        max_rows: Option<usize>,
        max_result_rows_without_limit: Option<usize>,
    ) -> QueryBudget {
        QueryBudget {
            timeout,
            max_rows,
            max_result_rows_without_limit,
            deadline: timeout.map(|t| Instant::now() + t),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Raise the cancel flag: the executor stops at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// A guard that cancels the read when dropped: held by the read's future, so that a
    /// future dropped by a timeout or by a caller that went away stops the blocking work.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.cancelled.clone())
    }

    /// The error for a read that ran past its deadline.
    pub fn timeout_error(&self) -> EngineError {
        EngineError::QueryTimeout {
            limit_ms: self.timeout.map_or(0, |t| t.as_millis() as u64),
        }
    }

    /// Ok while the read may go on.
    pub fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(EngineError::QueryCancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(self.timeout_error());
        }
        Ok(())
    }

    /// Ok while `held` rows fit the row budget.
    pub fn check_held(&self, held: usize) -> Result<()> {
        match self.max_rows {
            Some(limit) if held > limit => Err(EngineError::RowBudgetExceeded { limit }),
            _ => Ok(()),
        }
    }

    /// Ok while a read without `limit` has returned at most its cap.
    pub fn check_unlimited_result(&self, rows: usize) -> Result<()> {
        match self.max_result_rows_without_limit {
            Some(limit) if rows > limit => Err(EngineError::ResultTooLarge { limit }),
            _ => Ok(()),
        }
    }
}

/// Cancels a read when dropped (see [`QueryBudget::cancel_on_drop`]).
pub struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Counts steps and checks the budget every [`CHECK_EVERY`] of them.
pub struct Ticker<'b> {
    budget: &'b QueryBudget,
    steps: Cell<u32>,
}

impl<'b> Ticker<'b> {
    pub fn new(budget: &'b QueryBudget) -> Ticker<'b> {
        Ticker {
            budget,
            steps: Cell::new(0),
        }
    }

    pub fn budget(&self) -> &QueryBudget {
        self.budget
    }

    /// One step of work; every [`CHECK_EVERY`] steps, the budget is checked.
    #[inline]
    pub fn tick(&self) -> Result<()> {
        let n = self.steps.get().wrapping_add(1);
        self.steps.set(n);
        if n % CHECK_EVERY == 0 {
            self.budget.check()
        } else {
            Ok(())
        }
    }
}
