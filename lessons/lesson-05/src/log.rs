//! The log. The loop must never wait, and a write to stderr can: a thread of its own writes the
//! lines, and the loop only hands them over, or drops them when too many wait.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::LOG_QUEUE;

// ANCHOR: log
/// The log: lines go through a bounded queue to a thread that writes them. If whoever reads our
/// stderr (a terminal, a pipe, a log collector) is slow or stuck, the queue fills and new lines
/// are dropped and counted: a write to a full pipe would block, and here it would block every
/// client at once.
pub struct Log {
    queue: Option<mpsc::SyncSender<(Stream, String)>>,
    dropped: u64,
    /// Says when the writer thread has written everything and ended.
    done: mpsc::Receiver<()>,
}

#[derive(Clone, Copy)]
pub enum Stream {
    Out,
    Err,
}

impl Log {
    pub fn start() -> Log {
        let (queue, lines) = mpsc::sync_channel::<(Stream, String)>(LOG_QUEUE);
        let (done_tx, done) = mpsc::channel();
        thread::spawn(move || {
            for (stream, line) in lines {
                match stream {
                    Stream::Out => println!("{line}"),
                    Stream::Err => eprintln!("{line}"),
                }
            }
            let _ = done_tx.send(());
        });
        Log {
            queue: Some(queue),
            dropped: 0,
            done,
        }
    }

    pub fn out(&mut self, line: String) {
        self.push(Stream::Out, line);
    }

    pub fn err(&mut self, line: String) {
        self.push(Stream::Err, line);
    }

    fn push(&mut self, stream: Stream, line: String) {
        if let Some(queue) = &self.queue
            && queue.try_send((stream, line)).is_err()
        {
            self.dropped += 1;
        }
    }

    /// At the end: lets the writer empty the queue (for at most a second), and says how many
    /// lines were lost.
    pub fn finish(&mut self) {
        if self.dropped > 0 {
            let dropped = format!("log: {} lines dropped (stderr was not read)", self.dropped);
            self.err(dropped);
        }
        self.queue = None;
        let _ = self.done.recv_timeout(Duration::from_secs(1));
    }
}
// ANCHOR_END: log
