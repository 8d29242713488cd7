//! Wake-ups for the loop. Holds at most one pending trigger: a flood of webhooks while a
//! cycle runs coalesces into exactly one more cycle, and memory stays constant.

use std::sync::Arc;
use tokio::sync::Notify;

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
}
