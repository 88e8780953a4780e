//! A connection's socket as hyper sees it: reads are counted (for [`super::timer::HeadTimer`]),
//! and on the protocol listener the request line is noted so that hyper's own bare rejections
//! (`400`, `414 URI Too Long`, `431`) can be replaced by the front door's error envelope.
//!
//! hyper answers a request it cannot parse itself, before any service sees it, with an empty
//! response. A client SDK cannot read that: the official Python SDK cannot even report a non-200
//! answer, and the TOP SDKs parse every body as an envelope. The request line usually survives
//! (an over-long URL is over-long after its path), so the path tells which protocol to answer in.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

use memchr::memmem;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::rejection::{self, Door};
use super::timer::ReadCount;

/// How much of a request's first read is searched for `format=json` (TOP answers in the format
/// the request asked for).
const SNIFF_BYTES: usize = 16 * 1024;

/// Every request's first read is searched: a vectorised search, not a byte-by-byte window.
static FORMAT_JSON: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"format=json"));

pub(crate) struct WatchedIo {
    inner: TcpStream,
    reads: Arc<ReadCount>,
    /// Replace hyper's rejections (protocol listener only).
    sniff: bool,
    /// The front door of the latest request line seen, and whether it asked for JSON.
    door: Option<(Door, bool)>,
    /// A replacement being written: its bytes, how far, and the length hyper thinks it wrote.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl WatchedIo {
    pub(crate) fn new(inner: TcpStream, reads: Arc<ReadCount>, sniff: bool) -> WatchedIo {
        WatchedIo {
            inner,
            reads,
            sniff,
            door: None,
            replacing: None,
        }
    }

    fn note_request_line(&mut self, data: &[u8]) {
        let Some(space) = data.iter().take(8).position(|&b| b == b' ') else {
            return;
        };
        if !data[..space].iter().all(u8::is_ascii_uppercase) {
            return;
        }
        let target = &data[space + 1..];
        let door = if target.starts_with(b"/gateway.do") {
            Door::AlipayV2
        } else if target.starts_with(b"/v3/") {
            Door::AlipayV3
        } else if target.starts_with(b"/router/rest") {
            Door::Top
        } else {
            self.door = None;
            return;
        };
        let window = &target[..target.len().min(SNIFF_BYTES)];
        let json = FORMAT_JSON.find(window).is_some();
        self.door = Some((door, json));
    }

    /// The replacement for `head` when it is one of hyper's bodiless rejections of a request
    /// to a front door.
    fn replacement_for(&self, head: &[u8]) -> Option<Vec<u8>> {
        let (door, json) = self.door?;
        if !head.starts_with(b"HTTP/1.1 4") || head.len() < 12 {
            return None;
        }
        let status = match &head[9..12] {
            b"400" => 400,
            b"414" => 414,
            b"431" => 431,
            _ => return None,
        };
        // hyper's own rejections carry no content type and an empty body; every answer the
        // front doors write has a content type.
        let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
        let lower = head[..end].to_ascii_lowercase();
        let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
        if has(b"content-type:") || !has(b"content-length: 0") || head.len() != end + 4 {
            return None;
        }
        Some(rejection::render(door, json, status))
    }

    /// Writes the pending replacement; `Ready(Ok(n))` with hyper's length once all of it is out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, done, claimed)) = &mut self.replacing {
            if *done >= bytes.len() {
                let claimed = *claimed;
                self.replacing = None;
                return Poll::Ready(Ok(claimed));
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                this.reads.bump();
                if this.sniff {
                    this.note_request_line(new);
                }
            }
        }
        result
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none() && this.sniff && this.door.is_some() {
            if let Some(bytes) = this.replacement_for(buf) {
                this.replacing = Some((bytes, 0, buf.len()));
            }
        }
        if this.replacing.is_some() {
            return this.poll_replacement(cx);
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none() && this.sniff && this.door.is_some() {
            let first = bufs.iter().find(|b| !b.is_empty());
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            if let Some(first) = first.filter(|b| b.len() == total) {
                if let Some(bytes) = this.replacement_for(first) {
                    this.replacing = Some((bytes, 0, total));
                }
            }
        }
        if this.replacing.is_some() {
            return this.poll_replacement(cx);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
