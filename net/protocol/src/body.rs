//! rkyv plumbing for frame bodies: serializing straight into the frame's
//! `BytesMut`, and validated access (`rkyv::access`, bytecheck — never
//! `access_unchecked`) with a copy into an [`AlignedVec`] when the received
//! body is not 16-aligned.

use bytes::BytesMut;
use rkyv::api::high::{HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{Error as RkyvError, Strategy};
use rkyv::ser::allocator::ArenaHandle;
use rkyv::ser::{Positional, Writer};
use rkyv::util::AlignedVec;
use rkyv::{Portable, Serialize};

use super::error::{EncodeError, ProtocolError};
use super::frame::FRAME_ALIGNMENT;

/// rkyv writer appending to a `BytesMut` whose archive starts at `start`
/// (after the frame header). Positions are relative to `start`, so the
/// archive is laid out exactly as if it were its own buffer; `start` is a
/// multiple of 16, so alignment padding comes out right as well.
pub(crate) struct BodyWriter {
    buf: BytesMut,
    start: usize,
}

impl Positional for BodyWriter {
    fn pos(&self) -> usize {
        self.buf.len() - self.start
    }
}

impl<E> Writer<E> for BodyWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), E> {
        self.buf.extend_from_slice(bytes);
        Ok(())
    }
}

/// The serializer bodies are written with.
pub(crate) type BodySerializer<'a> = HighSerializer<BodyWriter, ArenaHandle<'a>, RkyvError>;

/// Appends the archive of `value` to `buf` (whose length must be a multiple
/// of 16) and returns the buffer and the archive's length.
pub(crate) fn serialize_into<T>(buf: BytesMut, value: &T) -> Result<(BytesMut, usize), EncodeError>
where
    T: for<'a> Serialize<BodySerializer<'a>>,
{
    debug_assert_eq!(buf.len() % FRAME_ALIGNMENT, 0);
    let start = buf.len();
    let writer = rkyv::api::high::to_bytes_in::<_, RkyvError>(value, BodyWriter { buf, start })
        .map_err(|e| EncodeError::Serialize(e.to_string()))?;
    let len = writer.buf.len() - start;
    Ok((writer.buf, len))
}

/// Validates `body` as an archived `T` and hands it to `f`.
///
/// rkyv needs the archive at an address aligned for `T`; a body that is not
/// 16-aligned in memory is copied into an [`AlignedVec`] first (bodies are
/// metadata — the data section is never copied).
pub(crate) fn with_archived<T, R>(
    api_key: u16,
    body: &[u8],
    f: impl FnOnce(&T) -> Result<R, ProtocolError>,
) -> Result<R, ProtocolError>
where
    T: Portable + for<'a> CheckBytes<HighValidator<'a, RkyvError>>,
{
    let malformed = |e: RkyvError| ProtocolError::MalformedBody { api_key, reason: e.to_string() };
    if (body.as_ptr() as usize).is_multiple_of(FRAME_ALIGNMENT) {
        f(rkyv::access::<T, RkyvError>(body).map_err(malformed)?)
    } else {
        let mut aligned = AlignedVec::<FRAME_ALIGNMENT>::with_capacity(body.len());
        aligned.extend_from_slice(body);
        f(rkyv::access::<T, RkyvError>(&aligned).map_err(malformed)?)
    }
}

/// Deserializes a validated (and limit-checked) archive into its owned form.
pub(crate) fn deserialize<T, A>(api_key: u16, archived: &A) -> Result<T, ProtocolError>
where
    A: rkyv::Deserialize<T, Strategy<rkyv::de::Pool, RkyvError>>,
{
    rkyv::deserialize::<T, RkyvError>(archived)
        .map_err(|e| ProtocolError::MalformedBody { api_key, reason: e.to_string() })
}
