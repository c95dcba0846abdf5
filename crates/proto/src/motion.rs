//! The binary motion batch (`up/motion`): about one second of accelerometer and gyroscope samples.
//!
//! Layout (little-endian):
//!
//! ```text
//! off size field
//! 0   2   magic b"ZM"
//! 2   1   version = 1
//! 3   1   flags: bit0 = gyroscope present; other bits must be 0
//! 4   2   rate_hz u16 (25..=200)
//! 6   4   seq u32 (per-device batch counter, wraps)
//! 10  8   t0_ms i64 (Unix ms of the first sample)
//! 18  2   n u16 (1..=1000 samples)
//! 20  ..  n samples: ax, ay, az as i16 milli-g; then, if gyro, gx, gy, gz as i16 in 0.1 °/s
//! ```

use crate::error::DecodeError;
use crate::{MAX_PAYLOAD, check_time};

/// The first two bytes of every motion batch.
pub const MOTION_MAGIC: [u8; 2] = *b"ZM";
/// The only motion layout version.
pub const MOTION_VERSION: u8 = 1;
/// Header length in bytes.
pub const MOTION_HEADER_LEN: usize = 20;
/// Lowest sample rate.
pub const MIN_RATE_HZ: u16 = 25;
/// Highest sample rate.
pub const MAX_RATE_HZ: u16 = 200;
/// Most samples in one batch.
pub const MAX_SAMPLES: usize = 1000;
/// Flag bit 0: every sample carries a gyroscope reading.
pub const FLAG_GYRO: u8 = 0x01;

/// A decoded motion batch, in the device's raw units (milli-g, 0.1 °/s).
///
/// A valid batch has 1..=1000 accelerometer samples, the same number of gyroscope samples
/// when `gyro` is present, a rate in 25..=200 Hz and `t0_ms` within 2020..2100
/// ([`validate`](Self::validate)); [`decode`](Self::decode) only returns valid batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MotionBatch {
    /// Per-device batch counter (wraps); a gap means lost batches.
    pub seq: u32,
    /// Unix ms of the first sample.
    pub t0_ms: i64,
    /// Sample rate in Hz.
    pub rate_hz: u16,
    /// Acceleration per sample: x, y, z in milli-g.
    pub accel: Vec<[i16; 3]>,
    /// Angular rate per sample: x, y, z in 0.1 °/s, when the device has a gyroscope.
    pub gyro: Option<Vec<[i16; 3]>>,
}

/// One sample in physical units, the shape `zhulao_detect::MotionSample` expects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix ms.
    pub t_ms: i64,
    /// Acceleration in g.
    pub acc: [f32; 3],
    /// Angular rate in °/s.
    pub gyro: Option<[f32; 3]>,
}

#[inline(always)]
fn triple(c: &[u8]) -> [i16; 3] {
    [i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]]), i16::from_le_bytes([c[4], c[5]])]
}

impl MotionBatch {
    /// Decodes a batch. One allocation per vector, none per sample.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let actual = payload.len();
        if actual > MAX_PAYLOAD {
            return Err(DecodeError::TooLarge { len: actual });
        }
        let Some(header) = payload.first_chunk::<MOTION_HEADER_LEN>() else {
            return Err(DecodeError::BadLength { expected: MOTION_HEADER_LEN, actual });
        };
        if header[0..2] != MOTION_MAGIC {
            return Err(DecodeError::BadMagic);
        }
        if header[2] != MOTION_VERSION {
            return Err(DecodeError::BadVersion { version: header[2] });
        }
        let flags = header[3];
        if flags & !FLAG_GYRO != 0 {
            return Err(DecodeError::BadFlags { flags });
        }
        let has_gyro = flags & FLAG_GYRO != 0;
        let rate_hz = u16::from_le_bytes([header[4], header[5]]);
        if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&rate_hz) {
            return Err(DecodeError::BadRate { rate_hz });
        }
        let seq = u32::from_le_bytes([header[6], header[7], header[8], header[9]]);
        let mut t0 = [0u8; 8];
        t0.copy_from_slice(&header[10..18]);
        let t0_ms = i64::from_le_bytes(t0);
        let n = usize::from(u16::from_le_bytes([header[18], header[19]]));
        if !(1..=MAX_SAMPLES).contains(&n) {
            return Err(DecodeError::OutOfRange { field: "n", range: "1..=1000" });
        }
        let stride = if has_gyro { 12 } else { 6 };
        let expected = MOTION_HEADER_LEN + n * stride;
        if actual != expected {
            return Err(DecodeError::BadLength { expected, actual });
        }
        check_time("t0_ms", t0_ms)?;
        let body = &payload[MOTION_HEADER_LEN..];
        // `chunks_exact` with a constant stride: exact-size iterators, so each `collect` is one
        // allocation and the loops have no bounds checks left.
        let (accel, gyro) = if has_gyro {
            let accel = body.chunks_exact(12).map(|c| triple(&c[0..6])).collect();
            let gyro = body.chunks_exact(12).map(|c| triple(&c[6..12])).collect();
            (accel, Some(gyro))
        } else {
            (body.chunks_exact(6).map(triple).collect(), None)
        };
        Ok(MotionBatch { seq, t0_ms, rate_hz, accel, gyro })
    }

    /// Checks what [`decode`](Self::decode) checks, for a batch built by hand.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&self.rate_hz) {
            return Err(DecodeError::BadRate { rate_hz: self.rate_hz });
        }
        if !(1..=MAX_SAMPLES).contains(&self.accel.len()) {
            return Err(DecodeError::OutOfRange { field: "n", range: "1..=1000" });
        }
        if let Some(g) = &self.gyro
            && g.len() != self.accel.len()
        {
            return Err(DecodeError::OutOfRange { field: "gyro", range: "as many samples as accel" });
        }
        check_time("t0_ms", self.t0_ms).map(drop)
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let stride = if self.gyro.is_some() { 12 } else { 6 };
        MOTION_HEADER_LEN + self.n() * stride
    }

    /// The sample count written in the header: `accel.len()`, capped at `u16::MAX`.
    fn n(&self) -> usize {
        self.accel.len().min(usize::from(u16::MAX))
    }

    /// Encodes the batch. A valid batch (see [`validate`](Self::validate)) round-trips
    /// through [`decode`](Self::decode). An invalid one is still encoded, without panicking,
    /// and the decoder refuses it — except that missing gyroscope samples are written as
    /// zeros and surplus ones are dropped.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.n();
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MOTION_MAGIC);
        out.push(MOTION_VERSION);
        out.push(if self.gyro.is_some() { FLAG_GYRO } else { 0 });
        out.extend_from_slice(&self.rate_hz.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.t0_ms.to_le_bytes());
        out.extend_from_slice(&(n as u16).to_le_bytes());
        for (i, a) in self.accel.iter().take(n).enumerate() {
            for v in a {
                out.extend_from_slice(&v.to_le_bytes());
            }
            if let Some(g) = &self.gyro {
                for v in g.get(i).copied().unwrap_or_default() {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        out
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.accel.len()
    }

    /// Whether the batch has no sample (never true for a decoded batch).
    pub fn is_empty(&self) -> bool {
        self.accel.is_empty()
    }

    /// The time of sample `i`: `t0 + i·1000/rate` ms, computed from `t0` for each sample so
    /// rounding does not accumulate (at 30 Hz sample 3 is at +100 ms, not +99).
    pub fn sample_time_ms(&self, i: usize) -> i64 {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        let rate = i64::from(self.rate_hz.max(1));
        self.t0_ms.saturating_add(i.saturating_mul(1000) / rate)
    }

    /// The samples in physical units: acceleration in g, angular rate in °/s.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = Sample> + '_ {
        let gyro = self.gyro.as_deref().unwrap_or(&[]);
        let has_gyro = self.gyro.is_some();
        self.accel.iter().enumerate().map(move |(i, a)| Sample {
            t_ms: self.sample_time_ms(i),
            acc: mg_to_g(*a),
            gyro: if has_gyro { Some(ddps_to_dps(gyro.get(i).copied().unwrap_or_default())) } else { None },
        })
    }

    /// Acceleration in g to the wire's milli-g (rounded, saturating at ±32.767 g).
    pub fn accel_to_mg(acc_g: [f32; 3]) -> [i16; 3] {
        acc_g.map(|v| (v * 1000.0).round() as i16)
    }

    /// Angular rate in °/s to the wire's 0.1 °/s (rounded, saturating at ±3276.7 °/s).
    pub fn gyro_to_ddps(gyro_dps: [f32; 3]) -> [i16; 3] {
        gyro_dps.map(|v| (v * 10.0).round() as i16)
    }
}

/// Milli-g to g.
pub fn mg_to_g(v: [i16; 3]) -> [f32; 3] {
    v.map(|x| f32::from(x) / 1000.0)
}

/// 0.1 °/s to °/s.
pub fn ddps_to_dps(v: [i16; 3]) -> [f32; 3] {
    v.map(|x| f32::from(x) / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn batch(n: usize, gyro: bool) -> MotionBatch {
        MotionBatch {
            seq: 7,
            t0_ms: T0,
            rate_hz: 100,
            accel: (0..n).map(|i| [i as i16, -1000, 3 - i as i16]).collect(),
            gyro: gyro.then(|| (0..n).map(|i| [10 * i as i16, -5, 32767]).collect()),
        }
    }

    #[test]
    fn layout_matches_the_document() {
        let b = MotionBatch {
            seq: 1,
            t0_ms: 1_700_000_000_000,
            rate_hz: 100,
            accel: vec![[0, 0, 1000], [-16, 8, 998]],
            gyro: None,
        };
        let bytes = b.encode();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5a4d01006400010000000068e5cf8b010000020000000000e803f0ff0800e603");
        assert_eq!(MotionBatch::decode(&bytes).unwrap(), b);

        // The example with a gyroscope in docs/device-protocol.md.
        let hex = "5a4d010164002a0000000068e5cf8b0100000200\
                   000018fc1e000f007cfc0000\
                   0c0022fc19001400aefc0300";
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let b = MotionBatch::decode(&bytes).unwrap();
        assert_eq!((b.seq, b.t0_ms, b.rate_hz), (42, 1_700_000_000_000, 100));
        assert_eq!(b.accel, vec![[0, -1000, 30], [12, -990, 25]]);
        assert_eq!(b.gyro, Some(vec![[15, -900, 0], [20, -850, 3]]));
        assert_eq!(
            b.samples().nth(1).map(|s| (s.t_ms, s.gyro)),
            Some((1_700_000_000_010, Some([2.0, -85.0, 0.3])))
        );
    }

    #[test]
    fn round_trip_with_and_without_gyro() {
        for gyro in [false, true] {
            for n in [1, 100, 1000] {
                let b = batch(n, gyro);
                let bytes = b.encode();
                assert_eq!(bytes.len(), 20 + n * if gyro { 12 } else { 6 });
                assert_eq!(bytes.len(), b.encoded_len());
                assert_eq!(MotionBatch::decode(&bytes).unwrap(), b);
                assert!(b.validate().is_ok());
            }
        }
    }

    #[test]
    fn header_errors() {
        let good = batch(10, true).encode();
        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(MotionBatch::decode(&b), Err(DecodeError::BadMagic));
        let mut b = good.clone();
        b[2] = 2;
        assert_eq!(MotionBatch::decode(&b), Err(DecodeError::BadVersion { version: 2 }));
        for flags in [0x02, 0x80, 0x03, 0xff] {
            let mut b = good.clone();
            b[3] = flags;
            assert_eq!(MotionBatch::decode(&b), Err(DecodeError::BadFlags { flags }));
        }
        // Clearing the gyro flag makes the length wrong.
        let mut b = good.clone();
        b[3] = 0;
        assert_eq!(MotionBatch::decode(&b), Err(DecodeError::BadLength { expected: 80, actual: 140 }));
    }

    #[test]
    fn rate_bounds() {
        for (rate, ok) in [(0, false), (24, false), (25, true), (100, true), (200, true), (201, false)] {
            let mut b = batch(5, false);
            b.rate_hz = rate;
            let r = MotionBatch::decode(&b.encode());
            assert_eq!(r.is_ok(), ok, "{rate}");
            if !ok {
                assert_eq!(r.unwrap_err(), DecodeError::BadRate { rate_hz: rate });
                assert_eq!(b.validate().unwrap_err().code(), "bad_rate");
            }
        }
    }

    #[test]
    fn sample_count_bounds() {
        let mut b = batch(1, false).encode();
        b[18] = 0;
        b.truncate(20);
        assert_eq!(MotionBatch::decode(&b).unwrap_err().field(), Some("n"));
        let b = batch(1001, false);
        assert_eq!(MotionBatch::decode(&b.encode()).unwrap_err().code(), "out_of_range");
        assert_eq!(b.validate().unwrap_err().code(), "out_of_range");
        assert_eq!(batch(0, false).validate().unwrap_err().code(), "out_of_range");
    }

    #[test]
    fn wrong_lengths() {
        let good = batch(10, false).encode();
        for len in [0, 1, 19] {
            assert_eq!(
                MotionBatch::decode(&good[..len]),
                Err(DecodeError::BadLength { expected: 20, actual: len })
            );
        }
        for len in [20, 25, 79] {
            assert_eq!(
                MotionBatch::decode(&good[..len]),
                Err(DecodeError::BadLength { expected: 80, actual: len })
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(MotionBatch::decode(&long), Err(DecodeError::BadLength { expected: 80, actual: 81 }));
        let huge = vec![0u8; MAX_PAYLOAD + 1];
        assert_eq!(MotionBatch::decode(&huge).unwrap_err().code(), "too_large");
    }

    #[test]
    fn time_bounds() {
        for (t0, ok) in [(0, false), (-1, false), (1_577_836_800_000, true), (4_102_444_800_000, false)] {
            let mut b = batch(3, false);
            b.t0_ms = t0;
            assert_eq!(MotionBatch::decode(&b.encode()).is_ok(), ok, "{t0}");
            if !ok {
                assert_eq!(b.validate(), Err(DecodeError::BadTime { field: "t0_ms", t_ms: t0 }));
            }
        }
    }

    #[test]
    fn gyro_length_mismatch_is_invalid_but_encodes() {
        let mut b = batch(4, true);
        if let Some(g) = &mut b.gyro {
            g.pop();
        }
        assert_eq!(b.validate().unwrap_err().field(), Some("gyro"));
        let d = MotionBatch::decode(&b.encode()).unwrap();
        assert_eq!(d.gyro.as_ref().map(|g| g[3]), Some([0, 0, 0]));
    }

    #[test]
    fn sample_times_do_not_drift() {
        let mut b = batch(1000, false);
        b.rate_hz = 30;
        assert_eq!(b.sample_time_ms(0), T0);
        assert_eq!(b.sample_time_ms(1), T0 + 33);
        assert_eq!(b.sample_time_ms(3), T0 + 100);
        assert_eq!(b.sample_time_ms(999), T0 + 33_300);
        b.rate_hz = 0; // hand-built nonsense must not divide by zero
        assert_eq!(b.sample_time_ms(2), T0 + 2000);
        b.t0_ms = i64::MAX;
        assert_eq!(b.sample_time_ms(usize::MAX), i64::MAX);
    }

    #[test]
    fn samples_in_physical_units() {
        let b = MotionBatch {
            seq: 0,
            t0_ms: T0,
            rate_hz: 50,
            accel: vec![[0, -1000, 250], [1500, 0, -32768]],
            gyro: Some(vec![[15, -900, 0], [32767, 0, 1]]),
        };
        let s: Vec<Sample> = b.samples().collect();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], Sample { t_ms: T0, acc: [0.0, -1.0, 0.25], gyro: Some([1.5, -90.0, 0.0]) });
        assert_eq!(s[1].t_ms, T0 + 20);
        assert_eq!(s[1].acc, [1.5, 0.0, -32.768]);
        assert_eq!(s[1].gyro, Some([3276.7, 0.0, 0.1]));
        let no_gyro = MotionBatch { gyro: None, ..b };
        assert!(no_gyro.samples().all(|s| s.gyro.is_none()));
    }

    #[test]
    fn quantisation_helpers() {
        assert_eq!(MotionBatch::accel_to_mg([1.0, -0.0004, 40.0]), [1000, 0, i16::MAX]);
        assert_eq!(MotionBatch::accel_to_mg([f32::NAN, -40.0, 0.0016]), [0, i16::MIN, 2]);
        assert_eq!(MotionBatch::gyro_to_ddps([1.25, -250.0, 1e9]), [13, -2500, i16::MAX]);
        assert_eq!(mg_to_g(MotionBatch::accel_to_mg([0.123, -2.5, 1.0])), [0.123, -2.5, 1.0]);
    }
}
