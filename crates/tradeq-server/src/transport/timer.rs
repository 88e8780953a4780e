//! The clock hyper reads for its request-head deadline.
//!
//! hyper starts one timer when a connection becomes ready for a request head: right after it opens
//! and right after each answer. A single duration cannot tell a client that keeps a connection
//! idle between polls (fine for a minute) from one that trickles a head byte by byte (slowloris,
//! refused after seconds). This timer tells them apart: until the connection receives a byte the
//! deadline is the idle timeout; from the first byte on, the head must be complete within the
//! header timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// How many reads a connection has completed; shared between its IO and its timer.
#[derive(Debug, Default)]
pub(crate) struct ReadCount(AtomicU64);

impl ReadCount {
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One connection's timer.
#[derive(Clone)]
pub(crate) struct HeadTimer {
    pub(crate) reads: Arc<ReadCount>,
    pub(crate) idle: Duration,
    pub(crate) header: Duration,
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(Plain(Box::pin(tokio::time::sleep(duration))))
    }

    // hyper's HTTP/1 server asks for exactly one deadline: the request head's.
    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let now = tokio::time::Instant::now();
        Box::pin(HeadSleep {
            reads: self.reads.clone(),
            reads_at_start: self.reads.get(),
            header: self.header,
            first_byte: None,
            idle: self.idle,
            sleep: Box::pin(tokio::time::sleep_until(now + self.idle)),
        })
    }

    // Called for every later request on a keep-alive connection: re-arming the same sleep
    // spares an allocation per request.
    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeadSleep>() {
            Some(head) => head.get_mut().rearm(),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

struct Plain(Pin<Box<tokio::time::Sleep>>);

impl Future for Plain {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Sleep for Plain {}

struct HeadSleep {
    reads: Arc<ReadCount>,
    reads_at_start: u64,
    header: Duration,
    first_byte: Option<tokio::time::Instant>,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl HeadSleep {
    fn rearm(&mut self) {
        self.reads_at_start = self.reads.get();
        self.first_byte = None;
        let idle = self.idle;
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::now() + idle);
    }
}

impl Future for HeadSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // hyper polls this every time the head is still incomplete after a read, so the first
        // byte is noticed at once.
        if self.first_byte.is_none() && self.reads.get() != self.reads_at_start {
            let now = tokio::time::Instant::now();
            self.first_byte = Some(now);
            let header = self.header;
            self.sleep.as_mut().reset(now + header);
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}
