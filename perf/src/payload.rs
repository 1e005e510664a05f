//! Record values and keys.

use std::path::Path;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{KeyPattern, Payload};
use crate::error::{PerfError, PerfResult};

/// Reads `path` and splits it at `delimiter` into payloads (empty pieces
/// dropped), like kafka-producer-perf-test's `--payload-file`.
pub fn load_payload_file(path: &Path, delimiter: &str) -> PerfResult<Vec<Bytes>> {
    let text = std::fs::read(path).map_err(|e| PerfError::new(format!("reading {}: {e}", path.display())))?;
    let payloads = split_payloads(&text, delimiter.as_bytes());
    if payloads.is_empty() {
        return Err(PerfError::new(format!("{} holds no payloads", path.display())));
    }
    Ok(payloads)
}

/// `data` split at `delimiter`, empty pieces dropped.
pub fn split_payloads(data: &[u8], delimiter: &[u8]) -> Vec<Bytes> {
    if delimiter.is_empty() {
        return if data.is_empty() { Vec::new() } else { vec![Bytes::copy_from_slice(data)] };
    }
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(delimiter.len()).position(|w| w == delimiter) {
        if at > 0 {
            out.push(Bytes::copy_from_slice(&rest[..at]));
        }
        rest = &rest[at + delimiter.len()..];
    }
    if !rest.is_empty() {
        out.push(Bytes::copy_from_slice(rest));
    }
    out
}

/// Hands out record values.
pub struct PayloadGen {
    values: Vec<Bytes>,
    rng: StdRng,
}

impl PayloadGen {
    pub fn new(payload: &Payload, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let values = match payload {
            Payload::Random(size) => {
                vec![Bytes::from((0..*size).map(|_| rng.gen_range(b'A'..=b'Z')).collect::<Vec<u8>>())]
            }
            Payload::Lines(lines) => lines.clone(),
        };
        PayloadGen { values, rng }
    }

    /// The next value (cheap: a shared buffer).
    pub fn next_value(&mut self) -> Bytes {
        match self.values.len() {
            0 => Bytes::new(),
            1 => self.values[0].clone(),
            n => self.values[self.rng.gen_range(0..n)].clone(),
        }
    }
}

/// Hands out record keys.
pub struct KeyGen {
    pattern: KeyPattern,
    next: u64,
    rng: StdRng,
}

impl KeyGen {
    /// Keys for one producer; `start` offsets a sequential pattern so that
    /// producers do not all begin on the same key.
    pub fn new(pattern: KeyPattern, seed: u64, start: u64) -> Self {
        KeyGen { pattern, next: start, rng: StdRng::seed_from_u64(seed ^ 0x6b65_7973) }
    }

    /// The next key, if the pattern has keys.
    pub fn next_key(&mut self) -> Option<Bytes> {
        match self.pattern {
            KeyPattern::None => None,
            KeyPattern::Random => Some(Bytes::from(format!("{:016x}", self.rng.gen::<u64>()))),
            KeyPattern::Sequential(n) => {
                let key = self.next % n.max(1);
                self.next = self.next.wrapping_add(1);
                Some(Bytes::from(format!("key-{key}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_payload_is_letters_of_the_size() {
        let mut gen = PayloadGen::new(&Payload::Random(100), 7);
        let v = gen.next_value();
        assert_eq!(v.len(), 100);
        assert!(v.iter().all(u8::is_ascii_uppercase));
        assert_eq!(gen.next_value(), v);
    }

    #[test]
    fn payload_lines_are_picked_from_the_file() {
        assert_eq!(split_payloads(b"a\nbb\n\nccc", b"\n"), vec!["a", "bb", "ccc"]);
        assert_eq!(split_payloads(b"x||y||", b"||"), vec!["x", "y"]);
        assert!(split_payloads(b"", b"\n").is_empty());
        let lines = vec![Bytes::from("a"), Bytes::from("b")];
        let mut gen = PayloadGen::new(&Payload::Lines(lines.clone()), 1);
        let picked: Vec<Bytes> = (0..100).map(|_| gen.next_value()).collect();
        assert!(picked.iter().all(|p| lines.contains(p)));
        assert!(picked.contains(&lines[0]) && picked.contains(&lines[1]));
    }

    #[test]
    fn key_patterns() {
        assert_eq!(KeyGen::new(KeyPattern::None, 1, 0).next_key(), None);
        let mut seq = KeyGen::new(KeyPattern::Sequential(3), 1, 2);
        let keys: Vec<Bytes> = (0..4).map(|_| seq.next_key().unwrap()).collect();
        assert_eq!(keys, vec!["key-2", "key-0", "key-1", "key-2"]);
        let mut random = KeyGen::new(KeyPattern::Random, 1, 0);
        let (a, b) = (random.next_key().unwrap(), random.next_key().unwrap());
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
