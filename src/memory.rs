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
