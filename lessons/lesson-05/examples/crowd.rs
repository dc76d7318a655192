//! A crowd of idle clients, for watching lesson 05 hold them:
//!
//! ```text
//! cargo run -p lesson-05 --example crowd -- --count 10000 --hold 30
//! ```
//!
//! Opens `--count` connections to `--addr`, reads each one's greeting, says how many were
//! greeted, then holds them all, saying nothing, for `--hold` seconds (or until its standard
//! input closes), and exits. It raises its own descriptor limit first, as the server does.

use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;

/// Open many idle connections to a lesson 05 server and hold them.
#[derive(Parser)]
#[command(name = "crowd", about)]
struct Args {
    /// Address of the server, as HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,
    /// How many connections to open.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Seconds to hold them, at most (standard input closing ends it sooner).
    #[arg(long, default_value_t = 30)]
    hold: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let addr: SocketAddr = args
        .addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`{}` is not an address of the form HOST:PORT", args.addr))?;
    raise_descriptor_limit();
    let started = Instant::now();
    let mut crowd = Vec::with_capacity(args.count);
    let mut busy = 0;
    for i in 1..=args.count {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connection {i} failed: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(&stream)
            .read_line(&mut line)
            .map_err(|e| format!("connection {i}: no greeting: {e}"))?;
        match line.trim_end() {
            "Hello World!" => crowd.push(stream),
            "busy: try again later" => busy += 1,
            other => return Err(format!("connection {i} was greeted with {other:?}")),
        }
    }
    println!(
        "{} connections greeted, {busy} told busy, in {:.1} s; holding them",
        crowd.len(),
        started.elapsed().as_secs_f64()
    );
    // Ends after --hold seconds, or as soon as standard input closes.
    let (tx, closed) = mpsc::channel();
    thread::spawn(move || {
        let _ = io::stdin().read_to_end(&mut Vec::new());
        let _ = tx.send(());
    });
    let _ = closed.recv_timeout(Duration::from_secs(args.hold));
    Ok(())
}

/// The soft descriptor limit up to the hard one (often 1024 → far more).
fn raise_descriptor_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}
