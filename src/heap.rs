//! The wasm's allocator: size classes two to an octave (16, 24, 32, 48, 64, 96, … bytes), one
//! free list each, carved from memory the allocator grows. It replaces std's dlmalloc in the
//! wasm (4.7 KB of code, about 1.7 KB brotli) with under 1 KB; natively the system allocator
//! stays.
//!
//! * A request takes a block of the smallest class that fits its size and its alignment. A
//!   block of `2^k` bytes lies at a multiple of `min(2^k, 64 KiB)`, one of `3·2^k` at a
//!   multiple of `2^k`, so any alignment up to a page is met (larger ones, which no type here
//!   has, are refused).
//! * A freed block goes on its class's free list and is reused only by that class: blocks are
//!   never split or merged. A block is at most a half larger than its request (about a sixth
//!   on average for evenly spread sizes), and a program that keeps allocating the same kinds
//!   of things (a backend opened and closed 10 000 times) reuses its blocks and stops growing.
//! * New blocks come from a region grown with `memory.grow` (the first bytes of memory, the
//!   stack and the data, are never touched), by an eighth of the heap at least. Padding skipped
//!   to align a block, and the rest of a region that another grow did not extend, go onto the
//!   free lists as the largest aligned power-of-two blocks they hold, so nothing is lost.
//! * `realloc` keeps the block when the new size needs the same class, else copies.
//!
//! The logic is [`Heap`], over a [`Memory`] it grows and writes the free lists into: the wasm's
//! own linear memory in the shipped build, a simulated one in the tests below.

use core::alloc::Layout;

/// Largest alignment a block has by its position (a wasm page), as log2.
const MAX_ALIGN_LOG: u32 = 16;
/// Classes: even ones are 16, 32, 64, … (`2^(i/2 + 4)` bytes), odd ones 24, 48, 96, …
/// (`3·2^(i/2 + 3)`), up to 2 GiB.
const CLASSES: usize = 55;
const PAGE: usize = 1 << 16;

/// What the allocator's memory must do: grow by whole pages (the first new byte's address, or
/// `None`), and hold a free list's `usize` links inside free blocks.
pub trait Memory {
    fn grow(&mut self, pages: usize) -> Option<usize>;
    fn read(&self, addr: usize) -> usize;
    fn write(&mut self, addr: usize, value: usize);
}

/// The allocator's state: the free list heads by class (`0`: empty) and the region new blocks
/// are carved from (`next..end`).
pub struct Heap {
    free: [usize; CLASSES],
    next: usize,
    end: usize,
}

impl Heap {
    pub const fn new() -> Heap {
        Heap {
            free: [0; CLASSES],
            next: 0,
            end: 0,
        }
    }

    /// A class's block size.
    fn size(class: u32) -> usize {
        (2 | (class as usize & 1)) << (class / 2 + 3)
    }

    /// The alignment every block of a class has by its position.
    fn align(class: u32) -> usize {
        1 << (class / 2 + 4 - (class & 1)).min(MAX_ALIGN_LOG)
    }

    /// The class of a layout, if it has one: the smallest whose blocks fit it.
    fn class(size: usize, align: usize) -> Option<u32> {
        if align > 1 << MAX_ALIGN_LOG {
            return None;
        }
        let size = size.max(16);
        let k = size.checked_next_power_of_two()?.trailing_zeros();
        // 2^k fits; 3·2^(k-2) too if it is not below `size`.
        let mut class = 2 * (k - 4);
        if k > 4 && size <= 3 << (k - 2) {
            class -= 1;
        }
        if Self::align(class) < align {
            class = (class + 1).max(2 * (align.trailing_zeros() - 4));
        }
        Some(class)
    }

    fn push(&mut self, mem: &mut impl Memory, class: u32, addr: usize) {
        mem.write(addr, self.free[class as usize]);
        self.free[class as usize] = addr;
    }

    /// Puts `from..to` (both multiples of 8) on the free lists as the largest power-of-two
    /// blocks that lie at multiples of their own size (up to a page); an 8-byte piece, too
    /// small for a block, is left out.
    fn release(&mut self, mem: &mut impl Memory, mut from: usize, to: usize) {
        while from < to {
            let mut log = from.trailing_zeros().min(MAX_ALIGN_LOG);
            while from + (1 << log) > to {
                log -= 1;
            }
            if log >= 4 {
                self.push(mem, 2 * (log - 4), from);
            }
            from += 1 << log;
        }
    }

    /// The address of a new block for `layout`, or 0 if it cannot have one.
    pub fn alloc(&mut self, mem: &mut impl Memory, layout: Layout) -> usize {
        let Some(class) = Self::class(layout.size(), layout.align()) else {
            return 0;
        };
        let head = self.free[class as usize];
        if head != 0 {
            self.free[class as usize] = mem.read(head);
            return head;
        }
        let (size, align) = (Self::size(class), Self::align(class));
        let mut at = (self.next + align - 1) & !(align - 1);
        if at < self.next || self.end - self.next < size || at > self.end - size {
            // Not enough room left: grow, by an eighth of the heap at least (a large heap grows
            // in few steps) or else by what this block needs; the new pages continue this
            // region if they follow it.
            let Some(need) = size.checked_add(PAGE) else {
                return 0;
            };
            let need = need / PAGE;
            let want = need.max(self.end / PAGE / 8);
            let (start, pages) = match mem.grow(want) {
                Some(start) => (start, want),
                None => match mem.grow(need) {
                    Some(start) => (start, need),
                    None => return 0,
                },
            };
            if start != self.end {
                self.release(mem, self.next, self.end);
                self.next = start;
            }
            self.end = start + pages * PAGE;
            at = (self.next + align - 1) & !(align - 1);
        }
        self.release(mem, self.next, at);
        self.next = at + size;
        at
    }

    /// Takes back a block [`Heap::alloc`] gave for `layout`.
    pub fn dealloc(&mut self, mem: &mut impl Memory, addr: usize, layout: Layout) {
        if let Some(class) = Self::class(layout.size(), layout.align()) {
            self.push(mem, class, addr);
        }
    }

    /// Whether a block for `layout` also serves `new_size` (same class): realloc keeps it.
    pub fn fits(layout: Layout, new_size: usize) -> bool {
        Self::class(layout.size(), layout.align()) == Self::class(new_size, layout.align())
    }
}

impl Default for Heap {
    fn default() -> Self {
        Heap::new()
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod wasm {
    use super::{Heap, Memory, PAGE};
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    struct Linear;

    impl Memory for Linear {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            match core::arch::wasm32::memory_grow(0, pages) {
                usize::MAX => None,
                old => Some(old * PAGE),
            }
        }
        fn read(&self, addr: usize) -> usize {
            // SAFETY: `addr` is a free block of at least 16 bytes, 16-aligned, that the heap owns.
            unsafe { *(addr as *const usize) }
        }
        fn write(&mut self, addr: usize, value: usize) {
            // SAFETY: as in `read`.
            unsafe { *(addr as *mut usize) = value }
        }
    }

    struct Global(UnsafeCell<Heap>);

    // SAFETY: this wasm has no threads (no atomics feature): nothing runs concurrently.
    unsafe impl Sync for Global {}

    #[global_allocator]
    static HEAP: Global = Global(UnsafeCell::new(Heap::new()));

    unsafe impl GlobalAlloc for Global {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: single-threaded, and no allocation happens inside another.
            unsafe { (*self.0.get()).alloc(&mut Linear, layout) as *mut u8 }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as in `alloc`.
            unsafe { (*self.0.get()).dealloc(&mut Linear, ptr as usize, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if Heap::fits(layout, new_size) {
                return ptr;
            }
            // SAFETY: the caller's guarantees for `realloc` (a valid layout for new_size).
            unsafe {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linear memory as a Vec, addresses from 0 (the first page stands for the stack and
    /// data the allocator must never touch).
    struct Sim {
        bytes: Vec<u8>,
        max_pages: usize,
        /// Grow this many bytes in between (someone else's pages), to break a region.
        foreign: bool,
    }

    impl Sim {
        fn new() -> Sim {
            Sim {
                bytes: vec![0xAA; PAGE],
                max_pages: 64,
                foreign: false,
            }
        }
    }

    impl Memory for Sim {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            if self.foreign {
                self.bytes.resize(self.bytes.len() + PAGE, 0xBB);
            }
            if self.bytes.len() / PAGE + pages > self.max_pages {
                return None;
            }
            let start = self.bytes.len();
            self.bytes.resize(start + pages * PAGE, 0);
            Some(start)
        }
        fn read(&self, addr: usize) -> usize {
            usize::from_le_bytes(self.bytes[addr..addr + 8].try_into().unwrap())
        }
        fn write(&mut self, addr: usize, value: usize) {
            assert!(addr >= PAGE, "wrote below the heap");
            self.bytes[addr..addr + 8].copy_from_slice(&value.to_le_bytes());
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes() {
        let sizes: Vec<usize> = (0..10).map(Heap::size).collect();
        assert_eq!(sizes, [16, 24, 32, 48, 64, 96, 128, 192, 256, 384]);
        let aligns: Vec<usize> = (0..10).map(Heap::align).collect();
        assert_eq!(aligns, [16, 8, 32, 16, 64, 32, 128, 64, 256, 128]);
        assert_eq!(Heap::size(CLASSES as u32 - 1), 1 << 31);
        assert_eq!(Heap::align(40), 1 << 16);
        for (size, align, class) in [
            (0, 1, 0),
            (16, 8, 0),
            (17, 8, 1),
            (24, 8, 1),
            (20, 16, 2),
            (25, 8, 2),
            (33, 4, 3),
            (48, 16, 3),
            (48, 32, 4),
            (49, 8, 4),
            (8, 64, 4),
            (8, 4096, 16),
            (100_000, 4, 26),
            (98_304, 4, 25),
            (1, 1 << 16, 24),
        ] {
            assert_eq!(Heap::class(size, align), Some(class), "{size} {align}");
        }
        assert_eq!(Heap::class(1, 1 << 17), None);
        assert_eq!(Heap::class(usize::MAX / 2 + 2, 1), None);
        // Every class fits what it is chosen for, and no smaller class would.
        for size in 0..5_000 {
            for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
                let c = Heap::class(size, align).unwrap();
                assert!(Heap::size(c) >= size && Heap::align(c) >= align);
                assert!((0..c).all(|d| Heap::size(d) < size || Heap::align(d) < align));
            }
        }
        assert!(Heap::fits(layout(20, 8), 24));
        assert!(!Heap::fits(layout(20, 8), 25));
        assert!(!Heap::fits(layout(20, 8), 16));
    }

    /// Random allocations, frees and reallocations: every block is aligned, lies in the heap,
    /// overlaps no live block, keeps its contents, and freed blocks are reused.
    #[test]
    fn random_use_keeps_blocks_apart_and_reuses_them() {
        for foreign in [false, true] {
            let mut mem = Sim::new();
            mem.foreign = foreign;
            mem.max_pages = 4096;
            let mut heap = Heap::new();
            let mut live: Vec<(usize, Layout, u8)> = Vec::new();
            let mut seed = 0x1234_5678_u64;
            let mut rand = |n: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % n
            };
            let mut odd = 0;
            for round in 0..20_000u32 {
                let r = rand(10);
                if r < 5 || live.is_empty() {
                    let size = match rand(5) {
                        0 => rand(17) as usize,
                        1 => 17 + rand(40) as usize,
                        2 => rand(300) as usize,
                        3 => rand(5_000) as usize,
                        _ => rand(200_000) as usize,
                    };
                    let align = 1 << rand(8);
                    let l = layout(size, align);
                    let at = heap.alloc(&mut mem, l);
                    assert_ne!(at, 0);
                    odd += usize::from(at % 16 == 8);
                    check_new(&mem, &live, at, l);
                    let tag = round as u8;
                    mem.bytes[at..at + size].fill(tag);
                    live.push((at, l, tag));
                } else {
                    let i = rand(live.len() as u64) as usize;
                    let (at, l, tag) = live.swap_remove(i);
                    assert!(mem.bytes[at..at + l.size()].iter().all(|b| *b == tag));
                    heap.dealloc(&mut mem, at, l);
                }
            }
            assert!(odd > 20, "24-byte blocks between 16-byte boundaries: {odd}");
            // Everything freed, then one pattern of use again and again: it grows the first
            // time at most.
            for (at, l, _) in live.drain(..) {
                heap.dealloc(&mut mem, at, l);
            }
            let mut pages = 0;
            for time in 0..4 {
                if time == 1 {
                    pages = mem.bytes.len() / PAGE;
                }
                let got: Vec<(usize, Layout)> = (0..2_000)
                    .map(|i| {
                        let l = layout(i * 37 % 3_000, 8);
                        (heap.alloc(&mut mem, l), l)
                    })
                    .collect();
                for (at, l) in got {
                    heap.dealloc(&mut mem, at, l);
                }
            }
            if !foreign {
                assert_eq!(mem.bytes.len() / PAGE, pages, "grew while reusing");
            }
        }
    }

    fn check_new(mem: &Sim, live: &[(usize, Layout, u8)], at: usize, l: Layout) {
        assert_eq!(at % l.align(), 0, "misaligned");
        assert!(
            at >= PAGE && at + l.size() <= mem.bytes.len(),
            "outside the heap"
        );
        for (b, bl, _) in live {
            let (b0, b1) = (*b, *b + bl.size().max(1));
            assert!(
                at + l.size().max(1) <= b0 || b1 <= at,
                "overlaps a live block"
            );
        }
    }

    #[test]
    fn the_rest_of_a_broken_region_and_alignment_padding_are_reused() {
        let mut mem = Sim::new();
        let mut heap = Heap::new();
        let a = heap.alloc(&mut mem, layout(16, 8));
        assert_eq!(a, PAGE);
        // A page-aligned 64 KiB block: the padding before it becomes smaller free blocks.
        let b = heap.alloc(&mut mem, layout(PAGE, 8));
        assert_eq!(b % PAGE, 0);
        let c = heap.alloc(&mut mem, layout(32, 8));
        assert!(a < c && c < b, "padding reused: {c:#x}");
        // Someone else's page in between: the region's rest is kept.
        mem.foreign = true;
        let pages = mem.bytes.len() / PAGE;
        let d = heap.alloc(&mut mem, layout(3 * PAGE, 8));
        assert!(d > pages * PAGE);
        mem.foreign = false;
        let e = heap.alloc(&mut mem, layout(PAGE, 8));
        assert_eq!(e, 3 * PAGE, "the old region's rest reused");
    }

    #[test]
    fn out_of_memory_is_a_null_block() {
        let mut mem = Sim::new();
        mem.max_pages = 3;
        let mut heap = Heap::new();
        assert_ne!(heap.alloc(&mut mem, layout(PAGE, 8)), 0);
        assert_eq!(heap.alloc(&mut mem, layout(4 * PAGE, 8)), 0);
        assert_eq!(heap.alloc(&mut mem, layout(8, 1 << 20)), 0);
        assert_ne!(heap.alloc(&mut mem, layout(100, 8)), 0);
    }
}
