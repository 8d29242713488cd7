//! Wake-ups for the loop. A [`Trigger`] holds at most one pending wake-up: a flood of
//! webhooks while a cycle runs coalesces into exactly one more cycle, and memory stays
//! constant. [`DriftChanges`] also carries what the drift watch saw, so the loop can tell
//! its own writes' echo from drift; it holds at most [`MAX_PENDING_CHANGES`].

use super::engine::WatchedChange;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// Changes kept between two looks of the loop; past this many, the loop is told it cannot
/// tell and runs a cycle (which is what it did for every change before it could tell).
pub const MAX_PENDING_CHANGES: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct Trigger {
    notify: Arc<Notify>,
}

impl Trigger {
    /// Asks for a cycle now. Never blocks, never queues more than one.
    pub fn fire(&self) {
        // notify_one stores a single permit when nobody waits: repeated calls coalesce.
        self.notify.notify_one();
    }

    pub async fn fired(&self) {
        self.notify.notified().await;
    }
}

#[derive(Debug, Clone, Default)]
pub struct DriftChanges {
    inner: Arc<DriftChangesInner>,
}

#[derive(Debug, Default)]
struct DriftChangesInner {
    notify: Notify,
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    changes: Vec<WatchedChange>,
    overflowed: bool,
}

impl DriftChanges {
    /// A change in scope: keep it and wake the loop. Never blocks.
    pub fn push(&self, change: WatchedChange) {
        self.extend([change]);
    }

    /// Changes seen together: the loop takes all of them or none. Never blocks.
    pub fn extend(&self, changes: impl IntoIterator<Item = WatchedChange>) {
        {
            let mut p = self.lock();
            for change in changes {
                if p.changes.len() < MAX_PENDING_CHANGES {
                    p.changes.push(change);
                } else {
                    p.overflowed = true;
                }
            }
        }
        self.inner.notify.notify_one();
    }

    pub async fn fired(&self) {
        self.inner.notify.notified().await;
    }

    /// The changes seen since the last take, or `None` when more came than are kept.
    pub fn take(&self) -> Option<Vec<WatchedChange>> {
        let taken = std::mem::take(&mut *self.lock());
        (!taken.overflowed).then_some(taken.changes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_flood_coalesces_into_one_pending_wakeup() {
        let t = Trigger::default();
        for _ in 0..10_000 {
            t.fire();
        }
        tokio::time::timeout(Duration::from_millis(100), t.fired())
            .await
            .expect("one wake-up is pending");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), t.fired())
                .await
                .is_err(),
            "only one wake-up was stored"
        );
    }

    fn change(n: usize) -> WatchedChange {
        WatchedChange {
            uid: Some(format!("uid-{n}")),
            resource_version: Some(n.to_string()),
            deleted: false,
        }
    }

    #[tokio::test]
    async fn drift_changes_wake_once_and_hand_over_what_was_seen() {
        let d = DriftChanges::default();
        d.push(change(1));
        d.push(change(2));
        tokio::time::timeout(Duration::from_millis(100), d.fired())
            .await
            .expect("a wake-up is pending");
        assert_eq!(d.take(), Some(vec![change(1), change(2)]));
        assert_eq!(d.take(), Some(vec![]), "taken once");
    }

    #[test]
    fn a_flood_of_changes_is_bounded_and_says_it_overflowed() {
        let d = DriftChanges::default();
        for n in 0..MAX_PENDING_CHANGES + 10 {
            d.push(change(n));
        }
        assert_eq!(
            d.take(),
            None,
            "too many to weigh: the loop must run a cycle"
        );
        d.push(change(1));
        assert_eq!(d.take(), Some(vec![change(1)]), "and it starts afresh");

        // Seen together past the bound: overflowed as a whole, not cut in two.
        d.extend((0..MAX_PENDING_CHANGES + 1).map(change));
        assert_eq!(d.take(), None);
        d.extend([change(3), change(4)]);
        assert_eq!(d.take(), Some(vec![change(3), change(4)]));
    }
}
