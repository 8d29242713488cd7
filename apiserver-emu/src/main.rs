//! `apiserver-emu --listen 127.0.0.1:0 --kubeconfig-out PATH [--tls] [--token T]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use apiserver_emu::{EmuConfig, Emulator};
use clap::Parser;

// The same allocator as netpol-sync's binary: the emulator is allocation-bound too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "apiserver-emu",
    about = "A Kubernetes API server emulator for tests and demos"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write a kubeconfig for kubectl and kube-rs once listening.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Serve HTTPS with a fresh self-signed CA (placed in the kubeconfig).
    #[arg(long)]
    tls: bool,
    /// Require this bearer token on API requests.
    #[arg(long, env = "APISERVER_EMU_TOKEN")]
    token: Option<String>,
    /// Namespaces to create at start (repeatable); `default` when none is given.
    #[arg(long = "namespace")]
    namespaces: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let namespaces = if args.namespaces.is_empty() {
        EmuConfig::default().namespaces
    } else {
        args.namespaces
    };
    let cfg = EmuConfig {
        tls: args.tls,
        token: args.token,
        namespaces,
    };
    let emulator = match Emulator::start_on(cfg, args.listen) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("apiserver-emu: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.kubeconfig_out {
        if let Err(e) = emulator.write_kubeconfig(path) {
            eprintln!("apiserver-emu: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    println!("{}", emulator.url());
    // Serve until killed; the server runs on the emulator's own thread.
    loop {
        std::thread::park();
    }
}
