//! Spans of time. Instants are UTC (`jiff::Timestamp`); local wall-clock time only appears where a
//! person's zone is known.

use jiff::Timestamp;

use crate::DomainError;

/// A half-open span of time `[from, to)` that is never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    from: Timestamp,
    to: Timestamp,
}

impl TimeWindow {
    /// A window from `from` until (not including) `to`.
    pub fn new(from: Timestamp, to: Timestamp) -> Result<Self, DomainError> {
        if to <= from {
            return Err(DomainError::EmptyWindow);
        }
        Ok(Self { from, to })
    }

    /// Start of the window.
    pub fn from(self) -> Timestamp {
        self.from
    }

    /// End of the window (exclusive).
    pub fn to(self) -> Timestamp {
        self.to
    }

    /// Whether two windows share any instant.
    pub fn overlaps(self, other: TimeWindow) -> bool {
        self.from < other.to && other.from < self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp")
    }

    #[test]
    fn empty_windows_are_refused() {
        let t = ts("2026-11-22T10:00:00Z");
        assert_eq!(TimeWindow::new(t, t), Err(DomainError::EmptyWindow));
    }

    #[test]
    fn touching_windows_do_not_overlap() {
        let a = TimeWindow::new(ts("2026-11-22T10:00:00Z"), ts("2026-11-22T11:00:00Z")).expect("valid");
        let b = TimeWindow::new(ts("2026-11-22T11:00:00Z"), ts("2026-11-22T12:00:00Z")).expect("valid");
        let c = TimeWindow::new(ts("2026-11-22T10:30:00Z"), ts("2026-11-22T10:45:00Z")).expect("valid");
        assert!(!a.overlaps(b));
        assert!(a.overlaps(c) && c.overlaps(a));
    }
}
