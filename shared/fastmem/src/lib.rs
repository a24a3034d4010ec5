//! `memcpy`, `memmove`, `memcmp` and `bcmp` for the shipped static musl
//! build.
//!
//! musl's x86-64 `memcpy` is `rep movsq` between two byte loops, and its
//! `memcmp` compares one byte at a time. Async Rust copies many small and
//! middling blocks (futures moved into place, header maps, rows), and under
//! load musl's `memcpy` took 8.5% of `cities-list`'s CPU where glibc's took
//! 1.5% (bench/RESULTS.md, "musl's memcpy"). These copy with overlapping
//! 16-byte SSE2 loads and stores (every x86-64 has SSE2), and with
//! `rep movsb` for large blocks that do not overlap, as glibc does.
//!
//! On musl they are exported under the C names: the linker finds them before
//! it reaches `libc.a`, so it never pulls musl's. Everywhere else they are
//! only [`copy`] and [`compare`], which the tests check against slices.
//!
//! `#![no_builtins]` keeps LLVM from turning these loops back into calls to
//! `memcpy` or `memcmp`, which would now be themselves.

#![cfg_attr(not(test), no_std)]
#![no_builtins]
#![cfg(target_arch = "x86_64")]

use core::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_storeu_si128,
};
use core::ptr::{read_unaligned, write_unaligned};

/// Blocks at least this long that do not overlap are copied with
/// `rep movsb`, which outruns a vector loop from about here on (glibc's
/// default threshold).
const REP_MOVSB_FROM: usize = 2048;

/// Copies `n` bytes from `src` to `dst`; the two may overlap (`memmove`).
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes.
#[inline]
pub unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: every access below stays within the first `n` bytes of
    // `src` or `dst`; up to 64 bytes, all loads precede all stores, so
    // overlapping blocks copy as if through a buffer.
    unsafe {
        if n <= 16 {
            copy_small(dst, src, n);
        } else if n <= 32 {
            let (a, b) = (load(src), load(src.add(n - 16)));
            store(dst, a);
            store(dst.add(n - 16), b);
        } else if n <= 64 {
            let (a, b) = (load(src), load(src.add(16)));
            let (c, d) = (load(src.add(n - 32)), load(src.add(n - 16)));
            store(dst, a);
            store(dst.add(16), b);
            store(dst.add(n - 32), c);
            store(dst.add(n - 16), d);
        } else if (dst as usize).wrapping_sub(src as usize) >= n {
            forward(dst, src, n);
        } else {
            backward(dst, src, n);
        }
    }
}

/// Compares `n` bytes (`memcmp`): negative, zero or positive as the first
/// byte where `a` and `b` differ is lower in `a`, absent, or higher.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` bytes.
#[inline]
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: every load reads within the first `n` bytes of `a` and `b`.
    unsafe {
        if n < 16 {
            return compare_small(a, b, n);
        }
        let mut at = 0;
        loop {
            // The last block overlaps the one before: those bytes are equal.
            at = at.min(n - 16);
            let equal = _mm_movemask_epi8(_mm_cmpeq_epi8(load(a.add(at)), load(b.add(at))));
            if equal != 0xFFFF {
                let first = at + (!equal).trailing_zeros() as usize;
                return i32::from(*a.add(first)) - i32::from(*b.add(first));
            }
            if at + 16 >= n {
                return 0;
            }
            at += 16;
        }
    }
}

#[inline(always)]
unsafe fn load(p: *const u8) -> __m128i {
    // SAFETY: the caller's; `loadu` needs no alignment.
    unsafe { _mm_loadu_si128(p.cast()) }
}

#[inline(always)]
unsafe fn store(p: *mut u8, v: __m128i) {
    // SAFETY: the caller's; `storeu` needs no alignment.
    unsafe { _mm_storeu_si128(p.cast(), v) }
}

/// 64 bytes as four vectors.
#[inline(always)]
unsafe fn load64(p: *const u8) -> [__m128i; 4] {
    // SAFETY: the caller's.
    unsafe { [load(p), load(p.add(16)), load(p.add(32)), load(p.add(48))] }
}

#[inline(always)]
unsafe fn store64(p: *mut u8, [a, b, c, d]: [__m128i; 4]) {
    // SAFETY: the caller's.
    unsafe {
        store(p, a);
        store(p.add(16), b);
        store(p.add(32), c);
        store(p.add(48), d);
    }
}

/// Up to 16 bytes: the head and the tail in the widest word that fits,
/// overlapping in the middle, both loaded before either is stored.
#[inline(always)]
unsafe fn copy_small(dst: *mut u8, src: *const u8, n: usize) {
    macro_rules! head_and_tail {
        ($word:ty) => {{
            let size = size_of::<$word>();
            let head = read_unaligned(src.cast::<$word>());
            let tail = read_unaligned(src.add(n - size).cast::<$word>());
            write_unaligned(dst.cast::<$word>(), head);
            write_unaligned(dst.add(n - size).cast::<$word>(), tail);
        }};
    }
    // SAFETY: the caller's, with `n` no more than 16.
    unsafe {
        if n >= 8 {
            head_and_tail!(u64);
        } else if n >= 4 {
            head_and_tail!(u32);
        } else if n >= 2 {
            head_and_tail!(u16);
        } else if n == 1 {
            *dst = *src;
        }
    }
}

/// More than 64 bytes, where `dst` starts before `src` or past its end, so
/// storing from the front never overwrites a byte not yet loaded. The last
/// 64 bytes are loaded first and stored last, which covers the remainder.
unsafe fn forward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's; every block lies within the first `n` bytes.
    unsafe {
        if n >= REP_MOVSB_FROM && (src as usize).wrapping_sub(dst as usize) >= n {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags),
            );
            return;
        }
        let tail = load64(src.add(n - 64));
        let mut at = 0;
        while n - at > 64 {
            store64(dst.add(at), load64(src.add(at)));
            at += 64;
        }
        store64(dst.add(n - 64), tail);
    }
}

/// More than 64 bytes, with `dst` inside `src`'s block: from the back, the
/// first 64 bytes loaded first and stored last.
unsafe fn backward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's; every block lies within the first `n` bytes.
    unsafe {
        let head = load64(src);
        let mut at = n;
        while at > 64 {
            at -= 64;
            store64(dst.add(at), load64(src.add(at)));
        }
        store64(dst, head);
    }
}

/// Under 16 bytes: the head and the tail as big-endian words, whose order
/// is the bytes' order.
#[inline(always)]
unsafe fn compare_small(a: *const u8, b: *const u8, n: usize) -> i32 {
    macro_rules! head_then_tail {
        ($word:ty) => {{
            let size = size_of::<$word>();
            for at in [0, n - size] {
                let x = <$word>::from_be(read_unaligned(a.add(at).cast::<$word>()));
                let y = <$word>::from_be(read_unaligned(b.add(at).cast::<$word>()));
                if x != y {
                    return if x < y { -1 } else { 1 };
                }
            }
            0
        }};
    }
    // SAFETY: the caller's, with `n` under 16.
    unsafe {
        if n >= 8 {
            head_then_tail!(u64)
        } else if n >= 4 {
            head_then_tail!(u32)
        } else {
            for at in 0..n {
                let (x, y) = (*a.add(at), *b.add(at));
                if x != y {
                    return i32::from(x) - i32::from(y);
                }
            }
            0
        }
    }
}

/// The C names, for the static musl build only: glibc's own are faster
/// than these (they pick AVX2 or AVX-512 at load time).
#[cfg(target_env = "musl")]
mod c {
    /// `memcpy(3)`.
    ///
    /// # Safety
    /// As [`super::copy`]'s.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: memcpy's contract is stricter than copy's.
        unsafe { super::copy(dst, src, n) };
        dst
    }

    /// `memmove(3)`.
    ///
    /// # Safety
    /// As [`super::copy`]'s.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: memmove's contract is copy's.
        unsafe { super::copy(dst, src, n) };
        dst
    }

    /// `memcmp(3)`.
    ///
    /// # Safety
    /// As [`super::compare`]'s.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: memcmp's contract is compare's.
        unsafe { super::compare(a, b, n) }
    }

    /// `bcmp(3)`, which LLVM calls for equality.
    ///
    /// # Safety
    /// As [`super::compare`]'s.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: bcmp's contract is compare's.
        unsafe { super::compare(a, b, n) }
    }
}

#[cfg(test)]
mod tests {
    /// Bytes that differ from their neighbours, so a misplaced byte shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// [`super::copy`] of `buf[src_at..src_at + n]` to `dst_at`.
    fn copy_within(buf: &mut [u8], src_at: usize, dst_at: usize, n: usize) {
        assert!(src_at.max(dst_at) + n <= buf.len());
        let base = buf.as_mut_ptr();
        // SAFETY: both blocks lie inside `buf`, as just asserted.
        unsafe { super::copy(base.add(dst_at), base.add(src_at), n) }
    }

    /// [`super::compare`] of two slices of one length.
    fn compare(a: &[u8], b: &[u8]) -> i32 {
        assert_eq!(a.len(), b.len());
        // SAFETY: both slices hold `a.len()` bytes.
        unsafe { super::compare(a.as_ptr(), b.as_ptr(), a.len()) }
    }

    /// Copying between two buffers: every length to 300, at every pair of
    /// misalignments, and large blocks on both sides of `rep movsb`'s
    /// threshold; bytes around the destination stay as they were.
    #[test]
    fn copies_between_buffers() {
        let lengths = (0usize..=300).chain([1000, 2047, 2048, 2049, 5000]);
        for n in lengths {
            for src_at in 0..4 {
                for dst_at in [0, 1, 3, 8, 15] {
                    let src = pattern(n + src_at);
                    let mut dst = vec![0xEEu8; n + dst_at + 16];
                    // SAFETY: `src` holds `src_at + n` bytes, `dst` more than `dst_at + n`.
                    unsafe {
                        super::copy(dst.as_mut_ptr().add(dst_at), src.as_ptr().add(src_at), n)
                    };
                    assert_eq!(
                        &dst[dst_at..dst_at + n],
                        &src[src_at..],
                        "n={n} {src_at}->{dst_at}"
                    );
                    assert!(dst[..dst_at].iter().all(|&b| b == 0xEE), "before, n={n}");
                    assert!(dst[dst_at + n..].iter().all(|&b| b == 0xEE), "after, n={n}");
                }
            }
        }
    }

    /// Overlapping copies in both directions and at every distance up to
    /// past the block, as `memmove` must do them.
    #[test]
    fn moves_within_one_buffer() {
        for n in (0usize..=200).chain([257, 1000, 3000]) {
            for shift in (1..=70).chain([n.saturating_sub(1), n, n + 1]) {
                for (src_at, dst_at) in [(0, shift), (shift, 0)] {
                    let mut buf = pattern(n + shift + 1);
                    let mut want = buf.clone();
                    want.copy_within(src_at..src_at + n, dst_at);
                    copy_within(&mut buf, src_at, dst_at, n);
                    assert_eq!(buf, want, "n={n} {src_at}->{dst_at}");
                }
            }
        }
    }

    /// The sign of `compare` is the slices' order, wherever the first
    /// difference falls and whichever side is higher.
    #[test]
    fn compares_as_slices_order() {
        for n in (0usize..=100).chain([255, 1000]) {
            let a = pattern(n);
            assert_eq!(compare(&a, &a.clone()), 0, "n={n}");
            for at in 0..n {
                for delta in [1u8, 0x80, 0xFF] {
                    let mut b = a.clone();
                    b[at] = b[at].wrapping_add(delta);
                    b[n - 1] ^= u8::from(at != n - 1); // a later difference must not count
                    let got = compare(&a, &b).signum();
                    assert_eq!(got, a.cmp(&b) as i32, "n={n} at={at} delta={delta}");
                }
            }
        }
    }
}
