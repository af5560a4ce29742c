//! Keyed (counter-based) random numbers.
//!
//! A deviate is a pure function of its key: (seed, stream, purpose, variable, point, member,
//! time index). There is no generator state to carry, so the numbers cannot depend on the MPI
//! decomposition, the order in which cells are visited, or how many draws happened before.
//!
//! One Philox block gives four deviates: both Box–Muller outputs of each pair of 64-bit words.
//! Variable `v` is lane `v % 4` of block `v / 4`, so all variables of one (cell, member, time)
//! of a group with up to four variables cost one block function call.
//!
//! The block function is Philox4x64-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random
//! numbers: as easy as 1, 2, 3"), which passes BigCrush for any counter/key pattern. The key
//! fields are packed into Philox's 256-bit counter and 128-bit key *without hashing*, so two
//! different keys can never collide and no arithmetic on cell ids can overflow (LIS derived
//! seeds from cell indices and overflowed on large grids, which produced stripes).

/// What a deviate is used for; part of the key so the streams never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// Stationary initial AR(1) state at a cold start, per cell.
    InitialCell = 0,
    /// AR(1) innovation w, per cell.
    InnovationCell = 1,
    /// White noise on the padded grid of a spatially correlated initial state.
    InitialField = 2,
    /// White noise on the padded grid of a spatially correlated innovation.
    InnovationField = 3,
}

/// The full key of one standard normal deviate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviateKey {
    /// User seed (namelist).
    pub seed: u64,
    /// Perturbation group / stream id (e.g. forcing = 1, soil moisture = 2).
    pub stream: u32,
    pub purpose: Purpose,
    /// Variable index inside the group (< 2^24).
    pub var: u32,
    /// Global cell id, or padded-grid point index for spatial fields.
    pub point: u64,
    /// Ensemble member (0-based).
    pub member: u64,
    /// Perturbation time index (intervals since 1970-01-01T00:00:00).
    pub time_index: i64,
}

const PHILOX_M0: u64 = 0xD2E7_470E_E14C_6C93;
const PHILOX_M1: u64 = 0xCA5A_8263_9512_1157;
const PHILOX_W0: u64 = 0x9E37_79B9_7F4A_7C15;
const PHILOX_W1: u64 = 0xBB67_AE85_84CA_A73B;

#[inline(always)]
fn mul_hi_lo(a: u64, b: u64) -> (u64, u64) {
    let p = (a as u128) * (b as u128);
    ((p >> 64) as u64, p as u64)
}

#[inline(always)]
fn philox_round(c: [u64; 4], k: [u64; 2]) -> [u64; 4] {
    let (hi0, lo0) = mul_hi_lo(PHILOX_M0, c[0]);
    let (hi1, lo1) = mul_hi_lo(PHILOX_M1, c[2]);
    [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
}

/// Philox4x64 with 10 rounds: a bijection of the 256-bit counter for each 128-bit key.
#[inline]
pub fn philox4x64_10(counter: [u64; 4], key: [u64; 2]) -> [u64; 4] {
    let mut c = counter;
    let mut k = key;
    c = philox_round(c, k);
    for _ in 1..10 {
        k[0] = k[0].wrapping_add(PHILOX_W0);
        k[1] = k[1].wrapping_add(PHILOX_W1);
        c = philox_round(c, k);
    }
    c
}

/// Largest variable index that fits the key layout.
pub const MAX_VAR_INDEX: u32 = (1 << 24) - 1;

impl DeviateKey {
    /// Pack the key of the block holding `var` injectively into Philox's (counter, key).
    #[inline]
    fn philox_input(&self) -> ([u64; 4], [u64; 2]) {
        debug_assert!(self.var <= MAX_VAR_INDEX);
        philox_input(
            self.seed,
            self.stream,
            self.purpose,
            self.var >> 2,
            self.point,
            self.member,
            self.time_index,
        )
    }

    /// Four independent uniformly distributed 64-bit words of the block holding this key's
    /// variable (shared by variables `4⌊var/4⌋ .. 4⌊var/4⌋ + 3`).
    #[inline]
    pub fn bits(&self) -> [u64; 4] {
        let (c, k) = self.philox_input();
        philox4x64_10(c, k)
    }

    /// The standard normal deviate N(0, 1) for this key: lane `var % 4` of its block.
    #[inline]
    pub fn normal(&self) -> f64 {
        normals_from_bits(self.bits())[(self.var & 3) as usize]
    }
}

#[inline(always)]
fn philox_input(
    seed: u64,
    stream: u32,
    purpose: Purpose,
    block: u32,
    point: u64,
    member: u64,
    time_index: i64,
) -> ([u64; 4], [u64; 2]) {
    let k1 =
        ((stream as u64) << 32) | ((purpose as u64) << 24) | (block as u64 & MAX_VAR_INDEX as u64);
    ([point, member, time_index as u64, 0], [seed, k1])
}

/// The four standard normal deviates of variables `4 block .. 4 block + 3` for one
/// (seed, stream, purpose, point, member, time index): one Philox call.
#[inline]
pub fn keyed_normals4(
    seed: u64,
    stream: u32,
    purpose: Purpose,
    block: u32,
    point: u64,
    member: u64,
    time_index: i64,
) -> [f64; 4] {
    debug_assert!(block <= MAX_VAR_INDEX >> 2);
    let (c, k) = philox_input(seed, stream, purpose, block, point, member, time_index);
    normals_from_bits(philox4x64_10(c, k))
}

/// Box–Muller on both word pairs, using both outputs of each: (a, b) → lanes 0, 1 and
/// (c, d) → lanes 2, 3. u1 in (0, 1] (never 0, so ln is finite; |z| ≤ 8.57), u2 in [0, 1).
#[inline]
pub fn normals_from_bits(w: [u64; 4]) -> [f64; 4] {
    let (z0, z1) = normal_pair_from_bits(w[0], w[1]);
    let (z2, z3) = normal_pair_from_bits(w[2], w[3]);
    [z0, z1, z2, z3]
}

/// Box–Muller: the two independent N(0, 1) deviates (r cos θ, r sin θ) of two words.
#[inline]
pub fn normal_pair_from_bits(a: u64, b: u64) -> (f64, f64) {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let u1 = ((a >> 11) + 1) as f64 * SCALE;
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = sin_cos_turn(b >> 11);
    (r * c, r * s)
}

/// (sin θ, cos θ) of θ = 2π n / 2⁵³ for a 53-bit integer n, to about 1 ulp.
///
/// The quadrant and the reflection into [0, π/4] are taken on the integer, so they are exact;
/// the remaining angle gets Taylor polynomials whose truncation error (< 1e-19) is far below
/// an ulp. This is several times faster than libm's sin/cos (which switch the rounding mode
/// and handle arbitrary arguments), and it gives the same bits on every platform.
#[inline]
fn sin_cos_turn(n: u64) -> (f64, f64) {
    const QUARTER: u64 = 1 << 51; // n steps per quadrant
    const EIGHTH: u64 = 1 << 50;
    const STEP: f64 = std::f64::consts::FRAC_PI_2 / QUARTER as f64;
    let quadrant = n >> 51;
    let r = n & (QUARTER - 1);
    let (r, swap) = if r > EIGHTH {
        (QUARTER - r, true)
    } else {
        (r, false)
    };
    let x = r as f64 * STEP; // in [0, π/4]
    let y = x * x;
    // sin x = x (1 − x²/3! + x⁴/5! − … + x¹⁶/17!), cos x = 1 − x²/2! + … + x¹⁶/16!, both
    // evaluated by Estrin's scheme in y = x² (short dependency chains, same accuracy).
    const SIN: [f64; 9] = [
        1.0,
        -1.0 / 6.0,
        1.0 / 120.0,
        -1.0 / 5040.0,
        1.0 / 362_880.0,
        -1.0 / 39_916_800.0,
        1.0 / 6_227_020_800.0,
        -1.0 / 1_307_674_368_000.0,
        1.0 / 355_687_428_096_000.0,
    ];
    const COS: [f64; 9] = [
        1.0,
        -0.5,
        1.0 / 24.0,
        -1.0 / 720.0,
        1.0 / 40_320.0,
        -1.0 / 3_628_800.0,
        1.0 / 479_001_600.0,
        -1.0 / 87_178_291_200.0,
        1.0 / 20_922_789_888_000.0,
    ];
    let y2 = y * y;
    let y4 = y2 * y2;
    let y8 = y4 * y4;
    let estrin = |c: &[f64; 9]| {
        let lo = (c[0] + c[1] * y) + (c[2] + c[3] * y) * y2;
        let hi = (c[4] + c[5] * y) + (c[6] + c[7] * y) * y2;
        lo + hi * y4 + c[8] * y8
    };
    let sp = estrin(&SIN);
    let cp = estrin(&COS);
    let (s, c) = if swap { (cp, x * sp) } else { (x * sp, cp) };
    match quadrant {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// Box–Muller, cosine output only (lane 0 of a block).
#[inline]
pub fn normal_from_bits(a: u64, b: u64) -> f64 {
    normal_pair_from_bits(a, b).0
}

/// Convenience: the standard normal deviate for the given key fields (lane `var % 4` of
/// [`keyed_normals4`] with block `var / 4`).
#[inline]
pub fn keyed_normal(
    seed: u64,
    stream: u32,
    purpose: Purpose,
    var: u32,
    point: u64,
    member: u64,
    time_index: i64,
) -> f64 {
    DeviateKey {
        seed,
        stream,
        purpose,
        var,
        point,
        member,
        time_index,
    }
    .normal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_turn_matches_libm() {
        let mut worst: f64 = 0.0;
        let mut check = |n: u64| {
            let (s, c) = sin_cos_turn(n);
            let theta = std::f64::consts::TAU * (n as f64 / (1u64 << 53) as f64);
            let (s0, c0) = theta.sin_cos();
            worst = worst.max((s - s0).abs()).max((c - c0).abs());
            // sin² + cos² = 1 to rounding.
            assert!((s * s + c * c - 1.0).abs() < 1e-15, "n = {n}");
        };
        for k in 0..200_000u64 {
            check(philox4x64_10([k, 0, 0, 0], [1, 2])[0] >> 11);
        }
        for q in 0..4u64 {
            for d in [0u64, 1, 2] {
                let edge = q << 51;
                check(edge + d);
                check((edge + (1 << 50)).wrapping_sub(d) & ((1 << 53) - 1));
                check((edge + (1 << 50) + d) & ((1 << 53) - 1));
                if edge >= d {
                    check(edge - d);
                }
            }
        }
        check((1 << 53) - 1);
        // libm's own argument rounding of 2π·u limits the comparison to a few ulp.
        assert!(worst < 1e-15, "worst difference {worst:e}");
    }

    // Known-answer vectors of Random123 (kat_vectors, philox4x64 with 10 rounds).
    #[test]
    fn philox_known_answers() {
        assert_eq!(
            philox4x64_10([0; 4], [0; 2]),
            [
                0x16554d9eca36314c,
                0xdb20fe9d672d0fdc,
                0xd7e772cee186176b,
                0x7e68b68aec7ba23b
            ]
        );
        assert_eq!(
            philox4x64_10([u64::MAX; 4], [u64::MAX; 2]),
            [
                0x87b092c3013fe90b,
                0x438c3c67be8d0224,
                0x9cc7d7c69cd777b6,
                0xa09caebf594f0ba0
            ]
        );
        assert_eq!(
            philox4x64_10(
                [
                    0x243f6a8885a308d3,
                    0x13198a2e03707344,
                    0xa4093822299f31d0,
                    0x082efa98ec4e6c89
                ],
                [0x452821e638d01377, 0xbe5466cf34e90c6c]
            ),
            [
                0xa528f45403e61d95,
                0x38c72dbd566e9788,
                0xa5a1610e72fd18b5,
                0x57bd43b5e52b7fe6
            ]
        );
    }
}
