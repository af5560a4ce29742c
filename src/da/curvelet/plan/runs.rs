//! A wedge's entries as runs: stretches where consecutive spectrum indices map to
//! consecutive wrap indices (ascending for the directly read half of the spectrum,
//! descending for the conjugated half, where k1 runs backwards). The gather into the wrap
//! and the adjoint's scatter-add then read and write contiguous memory, which vectorises
//! and reads 4 bytes of index per run instead of 8 per entry. Same operations in the same
//! order as entry by entry, so the same bits.

use std::ops::Range;

use num_complex::Complex64 as C64;

/// Entries `e..e + len`: spectrum index `src + i` ↔ wrap index `dst + i` (ascending run)
/// or `dst − i` (descending run).
#[derive(Clone, Copy, Debug)]
pub(super) struct Run {
    src: u32,
    dst: u32,
    len: u32,
    e: u32,
}

/// The runs of entries `range` (sorted by spectrum index) whose wrap index steps by +1
/// (`descending` false) or −1; appended to `runs`, their index range returned.
pub(super) fn build_runs(
    (src, dst): (&[u32], &[u32]),
    range: Range<usize>,
    descending: bool,
    runs: &mut Vec<Run>,
) -> Range<usize> {
    let first = runs.len();
    for e in range {
        let continues = runs.len() > first && {
            let r: &Run = &runs[runs.len() - 1];
            let next_dst = if descending {
                r.dst.checked_sub(r.len)
            } else {
                r.dst.checked_add(r.len)
            };
            (r.e + r.len) as usize == e && r.src + r.len == src[e] && next_dst == Some(dst[e])
        };
        match runs.last_mut() {
            Some(r) if continues => r.len += 1,
            _ => runs.push(Run {
                src: src[e],
                dst: dst[e],
                len: 1,
                e: e as u32,
            }),
        }
    }
    first..runs.len()
}

/// The run's wrap indices in entry order and its weights.
fn parts<'a>(r: &Run, w: &'a [f64], descending: bool) -> (Range<usize>, &'a [f64]) {
    let (d, n) = (r.dst as usize, r.len as usize);
    let wrap = if descending {
        d + 1 - n..d + 1
    } else {
        d..d + n
    };
    (wrap, &w[r.e as usize..r.e as usize + n])
}

/// wb[dst ± i] = spec[src + i]·w (conjugated for descending runs) over `runs`.
pub(super) fn gather(runs: &[Run], spec: &[C64], w: &[f64], wb: &mut [C64], descending: bool) {
    for r in runs {
        let (wrap, w) = parts(r, w, descending);
        let s = &spec[r.src as usize..r.src as usize + w.len()];
        let d = &mut wb[wrap];
        if descending {
            for ((d, s), w) in d.iter_mut().rev().zip(s).zip(w) {
                *d = s.conj() * *w;
            }
        } else {
            for ((d, s), w) in d.iter_mut().zip(s).zip(w) {
                *d = s * *w;
            }
        }
    }
}

/// spec[src + i] += wb[dst ± i]·(f·w) (wrap values conjugated for descending runs).
pub(super) fn scatter_add(
    runs: &[Run],
    wb: &[C64],
    (w, f): (&[f64], f64),
    spec: &mut [C64],
    descending: bool,
) {
    for r in runs {
        let (wrap, w) = parts(r, w, descending);
        let s = &mut spec[r.src as usize..r.src as usize + w.len()];
        let d = &wb[wrap];
        if descending {
            for ((s, d), w) in s.iter_mut().zip(d.iter().rev()).zip(w) {
                *s += d.conj() * (f * *w);
            }
        } else {
            for ((s, d), w) in s.iter_mut().zip(d).zip(w) {
                *s += d * (f * *w);
            }
        }
    }
}
