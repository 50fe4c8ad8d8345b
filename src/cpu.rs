//! Runtime choice of the instruction set the hot kernels run with.
//!
//! The kernels are plain Rust that the compiler vectorises; built for baseline x86-64 it can
//! only use 4-lane SSE2. [`kernels!`] compiles a kernel a second and third time with AVX2 and
//! AVX-512 enabled (8 and 16 lanes) and picks one per call from an [`Isa`], found once per
//! process by [`Isa::detect`]. The versions perform the same IEEE operations in the same
//! order (no fused multiply-add, no reassociation), only more lanes at a time, so their
//! results are identical to the last bit (tested for RCD and for the tone mapping).
//! `OBSCURA_CPU=scalar` in the environment forces the baseline build.
//!
//! Users: RCD demosaic (12 MP, one thread, Xeon Sapphire Rapids: baseline 210-230 ms, AVX2
//! 145-155 ms, AVX-512 125-135 ms), the finishing filters and the tone mapping's
//! full-resolution passes. Bilinear and Malvar are limited by memory traffic and stay
//! baseline only.

use std::sync::OnceLock;

/// An instruction set level the running CPU supports. Only [`Isa::detect`],
/// [`Isa::baseline`] and [`Isa::supported`] make one, so holding an `Isa` proves the CPU can
/// run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Isa(Level);

/// The level inside an [`Isa`], for [`kernels!`].
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
    pub(crate) fn baseline() -> Isa {
        Isa(Level::Baseline)
    }

    /// The best level the CPU supports, unless `OBSCURA_CPU=scalar`; detected once.
    pub(crate) fn detect() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            if std::env::var("OBSCURA_CPU").is_ok_and(|v| v.eq_ignore_ascii_case("scalar")) {
                return Isa::baseline();
            }
            Isa::supported().pop().unwrap_or(Isa::baseline())
        })
    }

    /// Every level the CPU supports, baseline first.
    pub(crate) fn supported() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut levels = vec![Isa::baseline()];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            levels.push(Isa(Level::Avx2));
            if std::arch::is_x86_feature_detected!("avx512f") {
                levels.push(Isa(Level::Avx512));
            }
        }
        levels
    }

    /// The level, for [`kernels!`].
    pub(crate) fn level(self) -> Level {
        self.0
    }
}

/// `kernels! { fn name(args) [-> Ret] = body; ... }` defines `fn name(isa: Isa, args) [-> Ret]`
/// running `body`
/// (an `#[inline(always)]` function whose helpers are `#[inline(always)]` too) compiled for
/// `isa`.
macro_rules! kernels {
    ($(fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;)*) => {$(
        #[allow(clippy::too_many_arguments)]
        fn $name(isa: $crate::cpu::Isa, $($arg: $ty),*) $(-> $ret)? {
            use $crate::cpu::Level;
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            #[allow(clippy::too_many_arguments)]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,avx512f")]
            #[allow(clippy::too_many_arguments)]
            fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            match isa.level() {
                Level::Baseline => $body($($arg),*),
                // SAFETY: an `Isa` at this level exists only if the CPU has AVX2.
                #[cfg(target_arch = "x86_64")]
                Level::Avx2 => unsafe { avx2($($arg),*) },
                // SAFETY: an `Isa` at this level exists only if the CPU has AVX2 and AVX-512F.
                #[cfg(target_arch = "x86_64")]
                Level::Avx512 => unsafe { avx512($($arg),*) },
            }
        }
    )*};
}
pub(crate) use kernels;
