//! TCP through io_uring: each core's listener and its connections.

use std::io;
use std::net::SocketAddr;
use std::os::unix::io::{FromRawFd, IntoRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use futures::io::ReadHalf;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite};

fn to_io(e: glommio::GlommioError<()>) -> io::Error {
    e.into()
}

/// A listening socket owned by one core.
pub struct TcpListener {
    inner: glommio::net::TcpListener,
    /// The inner listener's descriptor, for the shutdown on drop (glommio
    /// does not expose it).
    fd: RawFd,
}

impl TcpListener {
    /// Binds like `std::net::TcpListener::bind`. Not glommio's own bind: it
    /// sets SO_REUSEPORT, which would let a second broker bind the same port
    /// silently and have the kernel split clients between the two.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        // SAFETY: the descriptor comes from a listener we own and give up
        // here; glommio takes sole ownership of it.
        let fd = listener.into_raw_fd();
        let inner = unsafe { glommio::net::TcpListener::from_raw_fd(fd) };
        Ok(TcpListener { inner, fd })
    }

    pub async fn accept(&self) -> io::Result<TcpStream> {
        let stream = self.inner.accept().await.map_err(to_io)?;
        stream.set_nodelay(true).map_err(to_io)?;
        Ok(TcpStream(stream))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr().map_err(to_io)
    }
}

impl Drop for TcpListener {
    /// Stops listening now. Closing the descriptor alone is not enough: an
    /// accept still queued in the ring holds the socket open until the
    /// kernel cancels it, which, once the core's executor is gone, a kernel
    /// worker does at its own pace, so the port went on taking connections
    /// after a broker's shutdown returned. Shutting a listening socket down
    /// takes it out of LISTEN at once, whoever still holds it.
    fn drop(&mut self) {
        // SAFETY: the descriptor belongs to the inner listener, still alive
        // here; shutdown neither closes nor invalidates it.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
    }
}

/// A connection; implements `futures::AsyncRead` and `AsyncWrite`.
pub struct TcpStream(glommio::net::TcpStream);

impl TcpStream {
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = glommio::net::TcpStream::connect(addr).await.map_err(to_io)?;
        stream.set_nodelay(true).map_err(to_io)?;
        Ok(TcpStream(stream))
    }

    pub async fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let stream = glommio::net::TcpStream::connect_timeout(addr, timeout).await.map_err(to_io)?;
        stream.set_nodelay(true).map_err(to_io)?;
        Ok(TcpStream(stream))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr().map_err(to_io)
    }

    pub async fn shutdown(&self) -> io::Result<()> {
        self.0.shutdown(std::net::Shutdown::Both).await.map_err(to_io)
    }
}

/// Reads what the socket has, at most `max` bytes, onto the end of `buf`:
/// the bytes read (0 at the end of the stream). The space is not zeroed
/// first: a broker's connection reads every produced byte this way, and
/// zeroing a 1 MiB frame buffer before each read cost more of the core
/// than the socket copy itself (memset 21% of a 1-partition durable
/// produce profile, recv's copy 14%). Dropping the future before it
/// completes appends nothing.
pub async fn read_appending(reader: &mut ReadHalf<TcpStream>, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    buf.reserve(max);
    let spare = &mut buf.spare_capacity_mut()[..max];
    // SAFETY: the slice is the buffer's reserved, uninitialized spare
    // capacity, handed to the socket read only to be written: the reader is
    // this module's `TcpStream`, whose read is glommio's `poll_read`, which
    // passes the pointer straight to a non-blocking recv(2) and, when nothing
    // is there, waits for readiness without holding the buffer (no io_uring
    // receive keeps writing into it after a drop). Nothing reads the slice.
    let dst = unsafe { std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<u8>(), max) };
    let n = reader.read(dst).await?;
    assert!(n <= max, "a read returns at most the bytes asked for");
    // SAFETY: recv(2) initialized the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

impl AsyncRead for TcpStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::AsyncWriteExt;

    /// Bytes read land after what the buffer held, no more than asked for
    /// per read, in order; the end of the stream reads 0 and appends nothing.
    #[test]
    fn read_appending_appends_what_arrived() {
        crate::run_local(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let to_send = sent.clone();
            let writer = crate::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.write_all(&to_send).await.unwrap();
                stream.close().await.unwrap();
            });
            let (mut reader, _writer) = listener.accept().await.unwrap().split();
            let mut buf = BytesMut::from(&b"held"[..]);
            let max = 4096;
            loop {
                let before = buf.len();
                let n = read_appending(&mut reader, &mut buf, max).await.unwrap();
                assert!(n <= max, "read {n} bytes, asked for at most {max}");
                assert_eq!(buf.len(), before + n);
                if n == 0 {
                    break;
                }
            }
            writer.join().await;
            assert_eq!(&buf[..4], b"held");
            assert_eq!(buf.len(), 4 + sent.len());
            assert!(buf[4..] == sent[..], "the bytes arrive in order, unchanged");
        });
    }
}
