#![doc = include_str!("../README.md")]

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
pub use records::{Piece, RecordsData};
pub use request::{decode_request, encode_request, Request, RequestError};
pub use response::{decode_response, encode_response, supported_api_versions, unsupported_version_response};
pub use uuid::Uuid;
pub use writer::Writer;
