//! [`Sampler`]: the random source of the generated roundtrip property tests
//! (proptest picks the seed; the generated `sample` functions draw from it).

use bytes::Bytes;

use crate::{RecordsData, Uuid};

/// A splitmix64 stream. Test-only.
pub(crate) struct Sampler {
    state: u64,
}

impl Sampler {
    pub(crate) fn new(seed: u64, version: i16) -> Sampler {
        Sampler { state: seed ^ (u64::from(version as u16) << 48) }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Small integers and extremes, as well as anything in between.
    fn int(&mut self) -> u64 {
        match self.next() % 4 {
            0 => self.next() % 4,
            1 => u64::MAX - self.next() % 2,
            _ => self.next(),
        }
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    pub(crate) fn i8(&mut self) -> i8 {
        self.int() as i8
    }
    pub(crate) fn i16(&mut self) -> i16 {
        self.int() as i16
    }
    pub(crate) fn i32(&mut self) -> i32 {
        self.int() as i32
    }
    pub(crate) fn i64(&mut self) -> i64 {
        self.int() as i64
    }
    // Only schemas with a u16 field call this (none of the vendored ones may).
    #[allow(dead_code)]
    pub(crate) fn u16(&mut self) -> u16 {
        self.int() as u16
    }
    // Only schemas with a u32 field call this (none of the vendored ones may).
    #[allow(dead_code)]
    pub(crate) fn u32(&mut self) -> u32 {
        self.int() as u32
    }
    // Only schemas with a f64 field call this (none of the vendored ones may).
    #[allow(dead_code)]
    pub(crate) fn f64(&mut self) -> f64 {
        f64::from(self.next() as i32) / 8.0
    }
    pub(crate) fn uuid(&mut self) -> Uuid {
        let (a, b) = (self.next().to_be_bytes(), self.next().to_be_bytes());
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&a);
        id[8..].copy_from_slice(&b);
        Uuid(id)
    }

    /// Element count of a sampled array.
    pub(crate) fn len(&mut self) -> usize {
        (self.next() % 4) as usize
    }

    pub(crate) fn string(&mut self) -> String {
        const ALPHABET: &[char] = &['a', 'Z', '0', '-', '.', '_', 'é', '€', '𝄞'];
        (0..self.next() % 6).map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize]).collect()
    }

    pub(crate) fn bytes(&mut self) -> Bytes {
        (0..self.next() % 8).map(|_| self.next() as u8).collect::<Vec<u8>>().into()
    }

    /// Records in one or two pieces, to exercise chunked encoding.
    pub(crate) fn records(&mut self) -> RecordsData {
        let whole = self.bytes();
        if self.bool() && !whole.is_empty() {
            let cut = (self.next() % whole.len() as u64) as usize;
            RecordsData::from_pieces(vec![whole.slice(..cut), whole.slice(cut..)])
        } else {
            RecordsData::from(whole)
        }
    }
}
