//! Kafka requests served by the native handlers (groups, topic admin,
//! configs) are converted to native requests first; this checks such a
//! request as the native listener checks what it receives.

use corelog_protocol::{FrameDecoder, Request};

/// `request` after a round trip through the native codec (encode, then
/// decode): the decode applies the native protocol's bounds (name lengths,
/// member metadata and config sizes, counts), which the Kafka codec, bounded
/// only by the frame, does not know.
pub fn checked(request: Request) -> Result<Request, String> {
    let frame = corelog_protocol::encode_request(0, &request).map_err(|e| e.to_string())?;
    let mut decoder = FrameDecoder::with_max_frame_len(usize::MAX);
    let buf = decoder.buffer_mut();
    buf.extend_from_slice(&frame.head);
    for chunk in &frame.data {
        buf.extend_from_slice(chunk);
    }
    match decoder.next_frame() {
        Ok(Some(frame)) => corelog_protocol::decode_request(&frame).map_err(|e| e.to_string()),
        Ok(None) => Err("the request did not encode to a whole frame".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_within_the_native_limits_passes_unchanged_and_one_past_them_fails() {
        let ok = Request::DescribeGroups(corelog_protocol::DescribeGroupsRequest { group_ids: vec!["g".into()] });
        assert_eq!(checked(ok.clone()), Ok(ok));
        let long = "g".repeat(corelog_protocol::limits::MAX_GROUP_ID_LEN + 1);
        let bad = Request::DescribeGroups(corelog_protocol::DescribeGroupsRequest { group_ids: vec![long] });
        assert!(checked(bad).is_err());
    }
}
