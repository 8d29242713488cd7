//! Giving memory back to the system between the daemon's cycles. The binary allocates
//! with mimalloc (`main.rs`), which keeps freed pages for a while in case they are needed
//! again; a daemon that peaks during a cycle and then idles for its interval should not
//! sit on that peak.

/// Return the memory mimalloc holds but no longer uses to the operating system.
pub fn release_unused() {
    // SAFETY: `mi_collect` only walks mimalloc's own heaps and is callable from any thread
    // at any time; when mimalloc is not the global allocator (the tests) it finds nothing
    // to collect.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// `mi_option_purge_delay` in mimalloc.h (the same index in mimalloc v2 and v3, which
/// libmimalloc-sys does not name): how long freed pages are kept before being returned.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How soon freed pages go back to the system, chosen by how long the process lives.
/// mimalloc's default is 1 s. A sync's memory is a few large waves (the bundles, the
/// plan, pages of live objects): purging between them keeps the peak near the largest
/// wave instead of their sum. `MIMALLOC_PURGE_DELAY` in the environment still wins, for
/// experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeDelay {
    /// For `run`. mimalloc purges lazily, on a later allocation or free by the thread that
    /// freed, and the daemon's async workers sit idle between cycles: with any delay,
    /// what they freed at the end of a cycle stays resident through the interval
    /// (docs/performance.md).
    AtOnce,
    /// For one-shot commands, whose rest is their exit. Purging at once makes a load
    /// fault its pages back in many times over; a short delay keeps pages reused within
    /// a wave (docs/performance.md).
    Soon,
}

impl PurgeDelay {
    fn millis(self) -> libc::c_long {
        match self {
            PurgeDelay::AtOnce => 0,
            PurgeDelay::Soon => 10,
        }
    }
}

pub fn purge_freed_pages(delay: PurgeDelay) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: setting an option is a plain store into mimalloc's option table, valid at
    // any time from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay.millis()) }
}

/// Transparent huge pages off for this process. mimalloc asks for huge pages on its
/// arenas (`madvise`), and a 2 MiB huge page stays resident as long as any object in it
/// lives: a daemon holding 13 MiB of small objects between cycles had 20 MiB of its
/// resident memory in huge pages. Returns whether the kernel took the setting.
pub fn no_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's address space.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off_once_asked() {
        assert!(no_transparent_huge_pages());
        // SAFETY: PR_GET_THP_DISABLE only reads the flag.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }

    /// The unnamed index is the option mimalloc reads from `MIMALLOC_PURGE_DELAY`: it
    /// holds that option's default in mimalloc v3 (1000 ms, src/options.c), and setting
    /// it reads back.
    #[test]
    fn the_purge_delay_index_is_mimallocs_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading and writing an option, as above.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000);
        purge_freed_pages(PurgeDelay::Soon);
        let now = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(now, 10);
        purge_freed_pages(PurgeDelay::AtOnce);
        let now = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(now, 0);
    }
}
