//! A request body that must arrive whole before a deadline.
//!
//! A per-chunk timeout lets a client trickle one byte every few seconds forever; the deadline is
//! for the whole body. When it passes, reading fails, and the front door answers with its
//! "body could not be read" envelope (and hyper closes the connection, whose body was not read
//! to its end).

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// Why a body read failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body did not arrive within {0} s")]
    TimedOut(u64),
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
}

pub(crate) struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    secs: u64,
    // Made on the first read that has to wait: most bodies are already in the buffer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    pub(crate) fn new(inner: Incoming, deadline: Instant, secs: u64) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline,
            secs,
            sleep: None,
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(BodyError::from))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::TimedOut(this.secs)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
