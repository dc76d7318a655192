//! A reference server for the performance chapter: lesson 03's protocol served by tokio's event
//! loop instead of a pool of blocking threads, so the two designs can be measured side by side.
//!
//! Protocol (as lesson 03): greeting `Hello World!`; each line gets `R:ACK!` with R uniform in
//! 1..=1000; `exit` gets `bye` and closes; lines are UTF-8, at most 64 KiB; `--idle-timeout`.
//! It is not a lesson: it is written the way a tokio server usually is, and kept small.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const MAX_LINE: u64 = 64 * 1024;

/// Lesson 03's protocol on tokio, for comparison in measurements.
#[derive(Parser)]
#[command(name = "tokio-reference", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Seconds a client may stay silent before it is disconnected.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,

    /// Worker threads of the runtime (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let addr: SocketAddr = args.addr.parse().map_err(|_| {
        format!(
            "`{}` is not an address of the form IP:PORT, such as 127.0.0.1:8888",
            args.addr
        )
    })?;
    let listener = listen(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {bound}");
    let idle = Duration::from_secs(args.idle_timeout);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, idle).await {
                        eprintln!("{peer}: {e}");
                    }
                });
            }
            // Out of file descriptors, for example: say so and go on.
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

/// socket → SO_REUSEADDR → bind → listen with a backlog of 1024, as lesson 03 does.
/// `TcpListener::bind` would listen with 128 (mio's default, the standard library's): then 256
/// clients connecting at once can overflow the queue before the acceptor task runs, and the
/// kernel drops SYNs that the clients resend only a second later. The comparison is between
/// event loop and thread pool, not between backlogs.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn serve(stream: TcpStream, idle: Duration) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    // At most one line and one byte more: a longer line is refused, not stored.
    let mut reader = BufReader::new(reader).take(MAX_LINE + 1);
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    writer.write_all(b"Hello World!\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        reader.set_limit(MAX_LINE + 1);
        let read = reader.read_until(b'\n', &mut line);
        let n = match tokio::time::timeout(idle, read).await {
            Ok(result) => result?,
            Err(_) => {
                writer.write_all(b"error: idle timeout\n").await?;
                return Ok(());
            }
        };
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            if line.len() as u64 > MAX_LINE {
                writer.write_all(b"error: line too long\n").await?;
            }
            return Ok(());
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            writer.write_all(b"error: not UTF-8\n").await?;
            continue;
        };
        if text == "exit" {
            writer.write_all(b"bye\n").await?;
            return writer.shutdown().await;
        }
        let ack = rng.random_range(1..=1000u32);
        writer.write_all(format!("{ack}:ACK!\n").as_bytes()).await?;
    }
}
