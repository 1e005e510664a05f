//! TCP through io_uring: each core's listener and its connections.

use std::io;
use std::net::SocketAddr;
use std::os::unix::io::{FromRawFd, IntoRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};

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
