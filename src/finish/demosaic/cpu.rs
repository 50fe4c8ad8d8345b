//! Runtime choice of the instruction set the kernels run with.
//!
//! The kernels are plain Rust that the compiler vectorises; built for baseline x86-64 it can
//! only use 4-lane SSE2. [`kernel_versions!`] compiles a kernel a second and third time with
//! AVX2 and AVX-512 enabled (8 and 16 lanes) and picks one per call from an [`Isa`], found
//! once per process by [`Isa::detect`]. The versions perform the same IEEE operations in the
//! same order, only more lanes at a time, so their results are identical to the last bit
//! (tested). `OBSCURA_CPU=scalar` in the environment forces the baseline build.
//!
//! Only RCD uses it: on 12 MP, one thread, Xeon Sapphire Rapids (best of several runs on a
//! loaded machine), baseline 210-230 ms, AVX2 145-155 ms, AVX-512 125-135 ms. Bilinear and
//! Malvar are limited by memory traffic (about 30 ms either way), so they stay baseline only.

use std::sync::OnceLock;

/// An instruction set level the running CPU supports. Only [`Isa::detect`] and
/// [`Isa::baseline`] make one, so holding an `Isa` proves the CPU can run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Isa(Level);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The build's own target: always safe.
    pub fn baseline() -> Isa {
        Isa(Level::Baseline)
    }

    /// The best level the CPU supports, unless `OBSCURA_CPU=scalar`; detected once.
    pub fn detect() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            if std::env::var("OBSCURA_CPU").is_ok_and(|v| v.eq_ignore_ascii_case("scalar")) {
                return Isa::baseline();
            }
            Isa::supported().pop().unwrap_or(Isa::baseline())
        })
    }

    /// Every level the CPU supports, baseline first.
    pub fn supported() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut levels = vec![Isa::baseline()];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                levels.push(Isa(Level::Avx2));
                if std::arch::is_x86_feature_detected!("avx512f") {
                    levels.push(Isa(Level::Avx512));
                }
            }
        }
        levels
    }

    /// The level, for [`kernel_versions!`].
    pub fn level(self) -> Level {
        self.0
    }
}

/// `kernel_versions!(name, Scratch, body)` defines
/// `fn name(isa: Isa, t: &Tile, s: &mut Scratch, out: &mut OutTile)`, which runs `body` (an
/// `#[inline(always)]` function with that signature minus `isa`, whose helpers are
/// `#[inline(always)]` too) compiled for `isa`.
macro_rules! kernel_versions {
    ($name:ident, $scratch:ty, $body:path) => {
        fn $name(
            isa: $crate::finish::demosaic::cpu::Isa,
            t: &$crate::finish::demosaic::tile::Tile,
            s: &mut $scratch,
            out: &mut $crate::finish::demosaic::tile::OutTile,
        ) {
            use $crate::finish::demosaic::cpu::Level;
            #[cfg(target_arch = "x86_64")]
            {
                use $crate::finish::demosaic::tile::{OutTile, Tile};
                #[target_feature(enable = "avx2")]
                fn avx2(t: &Tile, s: &mut $scratch, out: &mut OutTile) {
                    $body(t, s, out)
                }
                #[target_feature(enable = "avx2,avx512f")]
                fn avx512(t: &Tile, s: &mut $scratch, out: &mut OutTile) {
                    $body(t, s, out)
                }
                match isa.level() {
                    // SAFETY: an `Isa` at this level exists only if the CPU has AVX2
                    // (`Isa::detect` / `Isa::supported` checked it).
                    Level::Avx2 => return unsafe { avx2(t, s, out) },
                    // SAFETY: as above, for AVX2 and AVX-512F.
                    Level::Avx512 => return unsafe { avx512(t, s, out) },
                    Level::Baseline => {}
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let Level::Baseline = isa.level();
            $body(t, s, out)
        }
    };
}

pub(crate) use kernel_versions;
