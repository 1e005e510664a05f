//! Request and response headers.
//!
//! ```text
//! request header v1:  api_key i16 | api_version i16 | correlation_id i32
//!                     | client_id (classic nullable string: i16 len, -1 = null)
//! request header v2:  v1 | tagged fields
//! response header v0: correlation_id i32
//! response header v1: correlation_id i32 | tagged fields
//! ```
//! The request header is v2 exactly when the request body is flexible at its
//! version; the client id stays a classic string even then. The response
//! header is v1 when the response body is flexible, except ApiVersions, whose
//! response header is always v0 (a client must read it before it knows what
//! the broker supports).

use crate::{ApiKey, DecodeError, Reader, Writer};

/// A request header (v1 or v2).
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

impl RequestHeader {
    /// Decodes header v2 if `flexible`, else v1. Unknown tagged fields are skipped.
    pub fn decode(r: &mut Reader, flexible: bool) -> Result<RequestHeader, DecodeError> {
        let header = RequestHeader {
            api_key: r.i16()?,
            api_version: r.i16()?,
            correlation_id: r.i32()?,
            client_id: r.nullable_string(false, true)?,
        };
        if flexible {
            r.skip_tagged_fields()?;
        }
        Ok(header)
    }

    /// Encodes header v2 if `flexible`, else v1 (no tagged fields).
    pub fn encode(&self, w: &mut Writer, flexible: bool) {
        w.put_i16(self.api_key);
        w.put_i16(self.api_version);
        w.put_i32(self.correlation_id);
        w.put_nullable_string(self.client_id.as_deref(), false, true);
        if flexible {
            w.put_tag_count(0);
        }
    }
}

/// A response header (v0 or v1).
///
/// I/O-free; used on any core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub correlation_id: i32,
}

impl ResponseHeader {
    /// Is the response header of `api` at `version` v1 (with tagged fields)?
    pub fn is_flexible(api: ApiKey, version: i16) -> bool {
        api != ApiKey::ApiVersions && api.response_is_flexible(version)
    }

    pub fn decode(r: &mut Reader, flexible: bool) -> Result<ResponseHeader, DecodeError> {
        let header = ResponseHeader { correlation_id: r.i32()? };
        if flexible {
            r.skip_tagged_fields()?;
        }
        Ok(header)
    }

    pub fn encode(&self, w: &mut Writer, flexible: bool) {
        w.put_i32(self.correlation_id);
        if flexible {
            w.put_tag_count(0);
        }
    }
}
