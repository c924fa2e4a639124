//! `order` and `limit`: rows sorted by their keys (nulls first ascending, last descending),
//! ties broken by node ids (key ranks, so by the bound nodes' keys). With a limit only the
//! best rows are kept as they arrive, so memory stays proportional to the limit.

use std::cmp::Ordering;

use super::value::Scalar;

pub struct SortRow<T> {
    pub keys: Vec<Scalar>,
    pub tie: Vec<u32>,
    pub item: T,
}

pub struct TopRows<T> {
    /// `descending` per sort key, in order.
    descending: Vec<bool>,
    limit: Option<usize>,
    rows: Vec<SortRow<T>>,
}

impl<T> TopRows<T> {
    pub fn new(descending: Vec<bool>, limit: Option<usize>) -> Self {
        TopRows {
            descending,
            limit,
            rows: vec![],
        }
    }

    pub fn push(&mut self, row: SortRow<T>) {
        self.rows.push(row);
        if let Some(limit) = self.limit {
            // Prune to the best `limit` once twice as many have accumulated: amortised O(1).
            if self.rows.len() >= 2 * limit.max(32) {
                self.prune(limit);
            }
        }
    }

    fn prune(&mut self, limit: usize) {
        if limit == 0 {
            self.rows.clear();
            return;
        }
        if self.rows.len() > limit {
            let descending = &self.descending;
            self.rows
                .select_nth_unstable_by(limit - 1, |a, b| compare_rows(descending, a, b));
            self.rows.truncate(limit);
        }
    }

    /// Rows held now (at most twice the limit, or all of them without one).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The rows in order, at most `limit` of them.
    pub fn finish(mut self) -> Vec<T> {
        if let Some(limit) = self.limit {
            self.prune(limit);
        }
        let descending = self.descending;
        self.rows.sort_by(|a, b| compare_rows(&descending, a, b));
        self.rows.into_iter().map(|r| r.item).collect()
    }
}

fn compare_rows<T>(descending: &[bool], a: &SortRow<T>, b: &SortRow<T>) -> Ordering {
    for (i, desc) in descending.iter().enumerate() {
        let o = a.keys[i].total_cmp(&b.keys[i]);
        let o = if *desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.tie.cmp(&b.tie)
}
