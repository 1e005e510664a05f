//! Kafka wire-protocol codec: frames, request/response headers, and every
//! request and response message of the supported apis, I/O-free (the broker
//! runs it on every core of its Kafka listener).
//!
//! # Generated messages
//!
//! `build.rs` reads Kafka's own message schemas, vendored from Kafka 3.8.0
//! in `schemas/` (3.x, because Kafka 4.0 dropped old versions such as
//! Produce 0-2 that clients still send). It strips the `//` comments, parses
//! the JSON and emits, per message, a struct holding every field of every
//! version (nested structs for `fields` arrays and `commonStructs`), a
//! `Default` from the schema defaults, and version-aware `decode`/`encode`.
//! A field absent at a version keeps its default when decoding and is left
//! out when encoding. Kafka's Java code refuses to encode a non-default,
//! non-`ignorable` field at a version that lacks it; this crate skips such
//! fields instead (the broker fills responses from a version-independent
//! model and lets the version decide what goes on the wire). The build fails
//! if a supported range in `build/apis.rs` is outside what a schema defines.
//!
//! # Tagged fields
//!
//! In flexible versions every struct ends with a tagged-field section.
//! Known tags are decoded (a value must fill exactly its announced size);
//! unknown tags are skipped, bounded by their size prefix. When encoding, a
//! tagged field that holds its default is left out: librdkafka before 2.2
//! mis-parses some tagged fields it receives, and Kafka itself never sends
//! default-valued ones.
//!
//! # Bounds
//!
//! Every input is untrusted. [`Reader`] checks each length and count against
//! the bytes left and against the limits in [`limits`] *before* allocating
//! (an array count must leave at least one byte per element, or the element
//! width for fixed-size types; arrays preallocate at most
//! [`limits::PREALLOC_ELEMS`] elements and grow as elements really decode).
//! Strings must be UTF-8. Generated code has a fixed nesting depth (no
//! recursive schemas), so no depth limit is needed. [`FrameSplitter`] buffers
//! only bytes received and rejects a size prefix below the minimum or above
//! the configured maximum as soon as it arrives. Nothing panics on input.
//!
//! # Zero copy
//!
//! `records` fields are [`RecordsData`]: decoding slices them out of the
//! request frame; encoding sends each piece as its own chunk of the
//! [`EncodedFrame`], so stored batches go to the socket uncopied.

pub mod error_code;
pub mod limits;

mod encoded;
mod error;
mod frame;
mod header;
mod messages;
mod reader;
mod records;
mod request;
mod response;
#[cfg(test)]
mod sample;
mod uuid;
mod writer;

pub use encoded::EncodedFrame;
pub use error::{DecodeError, EncodeError};
pub use frame::{FrameError, FrameSplitter};
pub use header::{RequestHeader, ResponseHeader};
pub use messages::*;
pub use reader::Reader;
pub use records::RecordsData;
pub use request::{decode_request, encode_request, Request, RequestError};
pub use response::{decode_response, encode_response, supported_api_versions, unsupported_version_response};
pub use uuid::Uuid;
pub use writer::Writer;
