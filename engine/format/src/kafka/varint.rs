//! Kafka's zigzag varints (protobuf style): the framing of every record
//! field. `varint` is an i32 in at most 5 bytes, `varlong` an i64 in at most 10.
//!
//! Decoding is strict: a varint longer than its type, or whose last byte
//! carries bits beyond the type's width, is an error rather than silently
//! truncated (Java truncates; every real encoder writes canonical varints).
//!
//! I/O-free; used on any core.

/// Reads a zigzag varint (i32) from the front of `bytes`: the value and the
/// bytes it took, or None if it is cut off or too long.
pub(crate) fn read_varint(bytes: &[u8]) -> Option<(i32, usize)> {
    let (raw, used) = read_unsigned(bytes, 32)?;
    let raw = u32::try_from(raw).ok()?;
    Some(((raw >> 1) as i32 ^ -((raw & 1) as i32), used))
}

/// Reads a zigzag varlong (i64) from the front of `bytes`.
pub(crate) fn read_varlong(bytes: &[u8]) -> Option<(i64, usize)> {
    let (raw, used) = read_unsigned(bytes, 64)?;
    Some(((raw >> 1) as i64 ^ -((raw & 1) as i64), used))
}

/// Unsigned LEB128 of at most `bits` bits.
fn read_unsigned(bytes: &[u8], bits: u32) -> Option<(u64, usize)> {
    let max_len = bits.div_ceil(7) as usize;
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(max_len).enumerate() {
        let shift = 7 * i as u32;
        let payload = u64::from(byte & 0x7f);
        // The last byte may only fill the bits the type has left.
        if i + 1 == max_len && payload >> (bits - shift) != 0 {
            return None;
        }
        value |= payload << shift;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

pub(crate) fn write_varint(value: i32, out: &mut Vec<u8>) {
    write_unsigned(u64::from(((value << 1) ^ (value >> 31)) as u32), out);
}

pub(crate) fn write_varlong(value: i64, out: &mut Vec<u8>) {
    write_unsigned(((value << 1) ^ (value >> 63)) as u64, out);
}

fn write_unsigned(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Encoded size of a varint, for sizing a record before writing it.
pub(crate) fn varint_len(value: i32) -> usize {
    let raw = ((value << 1) ^ (value >> 31)) as u32;
    (32 - raw.leading_zeros()).max(1).div_ceil(7) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Values from Kafka's ByteUtilsTest / the protobuf spec.
        let cases: [(i32, &[u8]); 7] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(read_varint(bytes), Some((value, bytes.len())));
        }
    }

    #[test]
    fn cut_or_overlong_varints_are_refused() {
        assert_eq!(read_varint(&[]), None);
        assert_eq!(read_varint(&[0x80]), None);
        assert_eq!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]), None, "bit 33");
        assert_eq!(read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), None, "six bytes");
        assert_eq!(read_varlong(&[0xff; 9]), None);
        assert_eq!(read_varlong(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), None);
        assert_eq!(read_varlong(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Some((i64::MIN, 10)));
    }

    proptest! {
        #[test]
        fn round_trip(a in any::<i32>(), b in any::<i64>()) {
            let mut out = Vec::new();
            write_varint(a, &mut out);
            prop_assert_eq!(out.len(), varint_len(a));
            write_varlong(b, &mut out);
            let (got_a, used) = read_varint(&out).unwrap();
            prop_assert_eq!(got_a, a);
            prop_assert_eq!(read_varlong(&out[used..]), Some((b, out.len() - used)));
        }
    }
}
