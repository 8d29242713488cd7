//! What the drift watch can vouch for: that it has seen every change to every
//! NetworkPolicy in the cluster since some point, and how many there were. A cycle that
//! takes a [`WatchMark`] before it lists the live set can later ask whether the watch saw
//! any change since; if none, the live set it read then is the live set now, and a no-change
//! cycle need not list 10,000 objects again (docs/operations.md, "Quiet cycles").
//!
//! The watch counts every event, in scope or not, so the question never depends on which
//! namespaces were governed when an event arrived. An unbroken run of events (an *epoch*)
//! starts when the watch takes the collection's current resourceVersion and ends when it
//! must start again from a new one (a 410, the scope gone); a watch reopened from the last
//! version it saw continues its epoch, since the server replays what happened in between.
//! While no watch request is open, nothing is vouched for.

use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub struct WatchWitness {
    state: Mutex<WitnessState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct WitnessState {
    epoch: u64,
    /// Changes seen in this epoch.
    changes: u64,
    /// A watch request of this epoch is open.
    open: bool,
}

/// A point in the watch's history: an epoch and how many changes it had seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchMark {
    epoch: u64,
    changes: u64,
}

impl WatchWitness {
    fn with<T>(&self, f: impl FnOnce(&mut WitnessState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Where the watch stands now, if a watch request is open; `None` vouches for nothing.
    pub fn mark(&self) -> Option<WatchMark> {
        self.with(|s| {
            s.open.then_some(WatchMark {
                epoch: s.epoch,
                changes: s.changes,
            })
        })
    }

    /// The watch is open now and has seen no change to any NetworkPolicy since `mark`.
    pub fn unchanged_since(&self, mark: WatchMark) -> bool {
        self.mark() == Some(mark)
    }

    /// The watch starts from the collection's current version: what came before is not
    /// vouched for.
    pub(crate) fn new_epoch(&self) {
        self.with(|s| {
            s.epoch += 1;
            s.changes = 0;
            s.open = false;
        });
    }

    /// A watch request is open: from here on every change reaches [`Self::changed`].
    pub(crate) fn opened(&self) {
        self.with(|s| s.open = true);
    }

    pub(crate) fn closed(&self) {
        self.with(|s| s.open = false);
    }

    /// An ADDED, MODIFIED or DELETED event, in scope or not.
    pub(crate) fn changed(&self) {
        self.with(|s| s.changes += 1);
    }
}

/// Marks the watch closed when the request ends however it ends (an error, the server's
/// timeout, or the task dropped at shutdown).
pub(crate) struct OpenWatch<'a>(&'a WatchWitness);

impl<'a> OpenWatch<'a> {
    pub(crate) fn new(witness: &'a WatchWitness) -> OpenWatch<'a> {
        witness.opened();
        OpenWatch(witness)
    }
}

impl Drop for OpenWatch<'_> {
    fn drop(&mut self) {
        self.0.closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_vouched_for_until_a_watch_is_open() {
        let w = WatchWitness::default();
        assert_eq!(w.mark(), None);
        w.new_epoch();
        assert_eq!(w.mark(), None, "an epoch whose request is not open yet");
        let open = OpenWatch::new(&w);
        assert!(w.mark().is_some());
        drop(open);
        assert_eq!(w.mark(), None);
    }

    #[test]
    fn any_change_a_new_epoch_or_a_closed_watch_ends_what_a_mark_vouches_for() {
        let w = WatchWitness::default();
        w.new_epoch();
        let _open = OpenWatch::new(&w);
        let mark = w.mark().unwrap();
        assert!(w.unchanged_since(mark));
        w.changed();
        assert!(!w.unchanged_since(mark), "a change since the mark");

        let mark = w.mark().unwrap();
        w.closed();
        assert!(!w.unchanged_since(mark), "no request open now");
        w.opened();
        assert!(
            w.unchanged_since(mark),
            "reopened from the last version seen: the same epoch, nothing missed"
        );

        w.new_epoch();
        w.opened();
        assert!(
            !w.unchanged_since(mark),
            "started again from a new version: what happened in between is unknown"
        );
    }
}
