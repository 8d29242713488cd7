use clap::Parser;
use std::process::ExitCode;

// YAML parsing and object building are allocation-bound, and mimalloc serves them
// faster than glibc's malloc (docs/performance.md; benches/bundle_load.rs uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    netpol_sync::memory::no_transparent_huge_pages();
    netpol_sync::cli::run(netpol_sync::cli::Cli::parse())
}
