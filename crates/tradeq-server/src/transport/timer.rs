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
use std::sync::{Arc, Mutex};
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
    pub(crate) alarm: Arc<Alarm>,
}

/// The one runtime timer a connection keeps for all its request heads.
///
/// hyper asks for a new sleep for every request head and drops it once the head is read.
/// Registering a runtime timer for each (and removing it a moment later) costs a lock and a
/// wheel update per request; instead the connection keeps one timer that fires at most
/// `header` apart, and each head's sleep compares the time with its own deadline when it
/// fires. A busy keep-alive connection then touches the timer wheel once every `header`
/// seconds, not twice per request, and a deadline still ends at its exact instant.
#[derive(Default)]
pub(crate) struct Alarm(Mutex<Option<Pin<Box<tokio::time::Sleep>>>>);

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(Plain(Box::pin(tokio::time::sleep(duration))))
    }

    // hyper's HTTP/1 server asks for exactly one deadline: the request head's.
    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadSleep {
            reads_at_start: self.reads.get(),
            first_byte: false,
            deadline: tokio::time::Instant::now() + self.idle,
            timer: self.clone(),
        })
    }

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
    timer: HeadTimer,
    reads_at_start: u64,
    first_byte: bool,
    /// The idle deadline until the first byte, then the header deadline.
    deadline: tokio::time::Instant,
}

impl HeadSleep {
    fn rearm(&mut self) {
        self.reads_at_start = self.timer.reads.get();
        self.first_byte = false;
        self.deadline = tokio::time::Instant::now() + self.timer.idle;
    }
}

impl Future for HeadSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // hyper polls this every time the head is still incomplete after a read, so the first
        // byte is noticed at once.
        if !this.first_byte && this.timer.reads.get() != this.reads_at_start {
            this.first_byte = true;
            this.deadline = tokio::time::Instant::now() + this.timer.header;
        }
        let deadline = this.deadline;
        let step = this.timer.header;
        let mut alarm = match this.timer.alarm.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let sleep = alarm.get_or_insert_with(|| {
            let first = deadline.min(tokio::time::Instant::now() + step);
            Box::pin(tokio::time::sleep_until(first))
        });
        // The alarm is set at most `header` after it was last set, which is never later than a
        // header deadline; only an idle timeout shorter than the header timeout moves it here.
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(deadline.min(now + step));
        }
    }
}

impl Sleep for HeadSleep {}
