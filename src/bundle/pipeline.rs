//! Reading and parsing overlapped: the calling thread reads and pins files (the git
//! repository handle is not shared across threads) while worker threads parse the files
//! already pinned. A load then costs about max(read, parse / cores) instead of their sum,
//! and each file's bytes are freed once parsed instead of all being held until the end.
//!
//! The threads live for one load, so this is a small scoped pool rather than rayon's. A
//! pool that outlives the load keeps what its threads freed in their allocator heaps, and
//! the daemon at rest then holds several MiB more of its budget (docs/performance.md).

use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

/// Fewest items per worker thread worth starting one for.
const MIN_ITEMS_PER_THREAD: usize = 16;
/// Items handed to a worker at once.
const BATCH: usize = 8;

/// Worker threads for `items` items: up to the cores available, none for small inputs.
pub(crate) fn workers_for(items: usize) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = cores.min(items / MIN_ITEMS_PER_THREAD);
    if workers <= 1 {
        0
    } else {
        workers
    }
}

/// Run `produce` on the calling thread; every item it hands to its `send` argument is
/// processed by `work` on one of `workers` threads (inline when `workers` is 0). Returns
/// the producer's result and every work result, in the order the items were produced.
/// Items produced before a producer error are still processed; the caller decides which
/// error wins.
pub(crate) fn produce_and_work<T, R, E>(
    workers: usize,
    produce: impl FnOnce(&mut dyn FnMut(T)) -> Result<(), E>,
    work: impl Fn(T) -> R + Sync,
) -> (Result<(), E>, Vec<R>)
where
    T: Send,
    R: Send,
{
    if workers == 0 {
        let mut out = Vec::new();
        let produced = produce(&mut |item| out.push(work(item)));
        return (produced, out);
    }
    // Items travel in batches: a handoff costs a lock and a wake-up, which for small
    // files (or cache hits) would cost more than the work itself.
    let (tx, rx) = mpsc::sync_channel::<(usize, Vec<T>)>(workers * 2);
    let rx = Mutex::new(rx);
    let work = &work;
    let rx = &rx;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        // The lock is held only to take the next batch, not while working.
                        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok((first, batch)) => done.extend(
                                batch
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, item)| (first + i, work(item))),
                            ),
                            Err(_) => return done,
                        }
                    }
                })
            })
            .collect();
        let mut index = 0;
        let mut batch = Vec::with_capacity(BATCH);
        let produced = produce(&mut |item| {
            batch.push(item);
            index += 1;
            if batch.len() == BATCH {
                // A send fails only if every worker is gone, i.e. panicked; the join
                // below re-raises that panic.
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                let _ = tx.send((index - BATCH, full));
            }
        });
        if !batch.is_empty() {
            let _ = tx.send((index - batch.len(), batch));
        }
        drop(tx);
        let mut results: Vec<(usize, R)> = Vec::with_capacity(index);
        for handle in handles {
            match handle.join() {
                Ok(done) => results.extend(done),
                // A panic in a worker is a bug; surface it on the caller's thread.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        results.sort_unstable_by_key(|(i, _)| *i);
        (produced, results.into_iter().map(|(_, r)| r).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_production_order_with_or_without_workers() {
        for workers in [0, 1, 2, 4] {
            let (produced, out) = produce_and_work(
                workers,
                |send| {
                    for i in 0..1000u32 {
                        send(i);
                    }
                    Ok::<(), ()>(())
                },
                |i| i * 2,
            );
            assert_eq!(produced, Ok(()));
            assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_producer_error_is_returned_with_the_work_done_before_it() {
        let (produced, out) = produce_and_work(
            2,
            |send| {
                for i in 0..100u32 {
                    if i == 40 {
                        return Err("stopped at 40");
                    }
                    send(i);
                }
                Ok(())
            },
            |i| i,
        );
        assert_eq!(produced, Err("stopped at 40"));
        assert_eq!(out, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_a_worker_is_raised_on_the_calling_thread() {
        let raised = std::panic::catch_unwind(|| {
            produce_and_work(
                2,
                |send| {
                    for i in 0..100u32 {
                        send(i);
                    }
                    Ok::<(), ()>(())
                },
                |i| assert_ne!(i, 57, "item 57 is poison"),
            )
        });
        let payload = raised.expect_err("the worker's panic reaches the caller");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.contains("item 57 is poison"), "{message}");
    }

    #[test]
    fn small_inputs_stay_on_the_calling_thread() {
        assert_eq!(workers_for(0), 0);
        assert_eq!(workers_for(MIN_ITEMS_PER_THREAD), 0);
    }
}
