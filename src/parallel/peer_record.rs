//! The record protocol between the two applications of an MPMD launch: one message is one
//! [`PeerRecord`], a kind, a JSON header, and two payloads (f64 coordinates, f32 fields),
//! framed as bytes so a record travels as a single `MPI_Send` of `u8`. What the kinds and
//! headers mean is the coupler's business; this room only frames, sends and waits.

use std::time::Duration;

/// One message between the application roots.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRecord {
    /// What the record is (the coupler's numbering).
    pub kind: u8,
    /// A JSON object describing the payloads.
    pub header: String,
    /// Coordinates and other values that must survive exactly (grid centres).
    pub f64s: Vec<f64>,
    /// The fields (f32 in every coupling mode, so transports can be bit-identical).
    pub f32s: Vec<f32>,
}

/// What can go wrong between the application roots.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error(
        "no message from the other application (world rank {peer}) after waiting {waited_s} s \
         for {what}: it has stopped, hangs or is still busy (coupler:deadline_seconds)"
    )]
    Timeout {
        peer: usize,
        what: String,
        waited_s: u64,
    },
    #[error("a malformed record from world rank {peer}: {msg}")]
    Malformed { peer: usize, msg: String },
}

/// The other application's root, as the coupler sees it: send a record, receive the next
/// one within a deadline. Implemented over MPI by [`super::Peer`].
pub trait PeerChannel {
    /// World rank of the other root (for messages).
    fn peer_rank(&self) -> usize;
    /// Send `rec` (blocking until MPI may reuse the buffer).
    fn send(&self, rec: &PeerRecord);
    /// The next record, waiting at most `deadline` and looking every `poll`; `what` names
    /// the record awaited in the timeout error.
    fn recv(&self, what: &str, deadline: Duration, poll: Duration)
        -> Result<PeerRecord, PeerError>;
}

const MAGIC: &[u8; 4] = b"LCR1";

impl PeerRecord {
    pub fn new(kind: u8, header: String) -> Self {
        PeerRecord {
            kind,
            header,
            f64s: Vec::new(),
            f32s: Vec::new(),
        }
    }

    /// `LCR1`, kind, then the lengths (u64 LE) of header, f64s and f32s, then the three.
    pub fn encode(&self) -> Vec<u8> {
        let h = self.header.as_bytes();
        let mut out = Vec::with_capacity(29 + h.len() + 8 * self.f64s.len() + 4 * self.f32s.len());
        out.extend_from_slice(MAGIC);
        out.push(self.kind);
        for n in [h.len(), self.f64s.len(), self.f32s.len()] {
            out.extend_from_slice(&(n as u64).to_le_bytes());
        }
        out.extend_from_slice(h);
        self.f64s.iter().for_each(|v| out.extend(v.to_le_bytes()));
        self.f32s.iter().for_each(|v| out.extend(v.to_le_bytes()));
        out
    }

    /// The record framed by [`PeerRecord::encode`]; `Err` says what does not fit.
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() < 29 || &b[..4] != MAGIC {
            return Err(format!(
                "{} bytes without the LCR1 frame of a landcycle record",
                b.len()
            ));
        }
        let len = |k: usize| u64::from_le_bytes(b[5 + 8 * k..13 + 8 * k].try_into().unwrap());
        let (nh, n64, n32) = (len(0), len(1), len(2));
        let want = 29u64
            .checked_add(nh)
            .and_then(|x| x.checked_add(n64.checked_mul(8)?))
            .and_then(|x| x.checked_add(n32.checked_mul(4)?));
        if want != Some(b.len() as u64) {
            return Err(format!(
                "{} bytes, the frame announces a header of {nh} bytes, {n64} f64 and {n32} f32",
                b.len()
            ));
        }
        let (nh, n64) = (nh as usize, n64 as usize);
        let header = String::from_utf8(b[29..29 + nh].to_vec())
            .map_err(|_| "the header is not UTF-8".to_string())?;
        let p64 = 29 + nh;
        let p32 = p64 + 8 * n64;
        Ok(PeerRecord {
            kind: b[4],
            header,
            f64s: b[p64..p32]
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            f32s: b[p32..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_bit_for_bit() {
        let r = PeerRecord {
            kind: 2,
            header: "{\"cycle\":\"2020060106\"}".into(),
            f64s: vec![0.1, -96.5, f64::MIN_POSITIVE],
            f32s: vec![1.0e20, f32::NAN, -0.0, 287.15],
        };
        let d = PeerRecord::decode(&r.encode()).unwrap();
        assert_eq!((d.kind, &d.header), (2, &r.header));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&d.f32s), bits(&r.f32s));
        assert_eq!(d.f64s, r.f64s);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_refused() {
        let b = PeerRecord::new(1, "{}".into()).encode();
        assert!(PeerRecord::decode(&b[..b.len() - 1])
            .unwrap_err()
            .contains("announces"));
        assert!(PeerRecord::decode(b"hello").unwrap_err().contains("LCR1"));
        let mut huge = b.clone();
        huge[5..13].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(PeerRecord::decode(&huge).is_err());
    }
}
