use clap::Parser;
use std::process::ExitCode;

// YAML parsing and object building are allocation-bound: mimalloc loads a 10,000-policy
// bundle about 30% faster than glibc's malloc (benches/bundle_load.rs uses it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    netpol_sync::memory::no_transparent_huge_pages();
    netpol_sync::cli::run(netpol_sync::cli::Cli::parse())
}
