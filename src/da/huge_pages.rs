//! Large per-analysis buffers on transparent huge pages.
//!
//! The EnKF-like image analysis fills hundreds of MB of fresh memory per analysis (each
//! member's kept coefficients, 26 MB at 1440 × 600). On 4 KiB pages the first touch cost
//! 0.12–0.19 s of its 2.1 s (150,000 page faults; docs/benchmarks.md). Kernels that give huge
//! pages only on request (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise`, as
//! here) get the request; elsewhere it changes nothing. Only a hint: the contents and every
//! result are the same either way.

/// Below this a buffer cannot hold a whole 2 MiB huge page worth asking for.
const MIN_BYTES: usize = 4 << 20;

/// Make room for `len` elements in `v`, asking for huge pages when the room is new and large.
pub(crate) fn reserve_huge<T>(v: &mut Vec<T>, len: usize) {
    if v.capacity() >= len {
        return;
    }
    v.reserve_exact(len - v.len());
    let spare = v.spare_capacity_mut();
    advise(spare.as_mut_ptr().cast(), std::mem::size_of_val(spare));
}

/// Ask for huge pages for the memory `[ptr, ptr + bytes)` not yet touched.
pub(crate) fn advise(ptr: *mut u8, bytes: usize) {
    if bytes < MIN_BYTES {
        return;
    }
    let page = 4096;
    let start = (ptr as usize).next_multiple_of(page);
    let len = (ptr as usize + bytes).saturating_sub(start) / page * page;
    // SAFETY: [start, start + len) lies within the caller's allocation and is page-aligned;
    // MADV_HUGEPAGE changes how the kernel backs it, never its contents. A refusal (EINVAL
    // on kernels without THP) is harmless and ignored.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_room_keeps_contents_and_length() {
        let mut v: Vec<f64> = vec![1.0, 2.0];
        reserve_huge(&mut v, 1 << 20);
        assert!(v.capacity() >= 1 << 20);
        assert_eq!(v, [1.0, 2.0]);
        v.extend((0..(1 << 20) - 2).map(|i| i as f64));
        assert_eq!(v.len(), 1 << 20);
        assert_eq!(v[3], 1.0);
        let cap = v.capacity();
        reserve_huge(&mut v, 10);
        assert_eq!(v.capacity(), cap);
    }
}
