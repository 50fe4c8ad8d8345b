//! The enumerated option values as clap [`ValueEnum`]s, each mapped onto the library's enum.
//!
//! The value enums live here rather than as `#[cfg_attr(feature = "cli", derive(ValueEnum))]`
//! on the library's enums: the library's types stay the same with and without the `cli`
//! feature (no feature changes its API), the help texts are written for the shell beside the
//! options, and the library's own names and aliases (its `FromStr`, used by look files, the
//! Python bindings and the JSON report) stay its own. The cost, a second list of variants, is
//! checked by the test below: every value parses to the same library value by its name.

use clap::ValueEnum;

use obscura::color::ColorSpace;
use obscura::demosaic::Demosaic;
use obscura::encode::Format;
use obscura::finish::highlights::Highlights;
use obscura::finish::tone::ToneMode;
use obscura::image::Cfa;
use obscura::merge::MergeMethod;
use obscura::synth::chart::ChartLight;

/// Maps each CLI value onto a library value, one arm per variant.
macro_rules! value_enum {
    ($(#[$m:meta])* $name:ident => $lib:ty { $($(#[$vm:meta])* $v:ident => $lv:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
        pub(crate) enum $name {
            $($(#[$vm])* $v),+
        }

        impl From<$name> for $lib {
            fn from(v: $name) -> $lib {
                match v {
                    $($name::$v => $lv),+
                }
            }
        }
    };
}

value_enum! {
    /// `--merge`.
    MergeValue => MergeMethod {
        /// Robust frequency-domain merge (default).
        Robust => MergeMethod::Robust,
        /// Kernel regression of the raw samples onto an RGB grid (super-resolution with --scale).
        Kernel => MergeMethod::Kernel,
        /// The HDR+ paper's merge as published.
        #[value(name = "hdrplus", alias = "hdr+")]
        HdrPlus => MergeMethod::HdrPlus,
        /// The aligned mean, no ghost rejection.
        #[value(alias = "mean")]
        Average => MergeMethod::Average,
    }
}

value_enum! {
    /// `--tone`.
    ToneValue => ToneMode {
        /// HDR+-style local tone mapping (default).
        Local => ToneMode::Local,
        /// One global curve.
        Global => ToneMode::Global,
        /// No tone mapping: clip.
        None => ToneMode::None,
    }
}

value_enum! {
    /// `--demosaic`.
    DemosaicValue => Demosaic {
        /// Ratio-corrected demosaicing (default, best).
        Rcd => Demosaic::Rcd,
        /// Malvar-He-Cutler (fast).
        Malvar => Demosaic::Malvar,
        /// Bilinear (the baseline).
        Bilinear => Demosaic::Bilinear,
    }
}

value_enum! {
    /// `--highlights`.
    HighlightsValue => Highlights {
        /// Rebuild clipped channels from the others (default).
        Reconstruct => Highlights::Reconstruct,
        /// Clip at the white level.
        Clip => Highlights::Clip,
    }
}

value_enum! {
    /// `--colorspace`.
    ColorSpaceValue => ColorSpace {
        /// sRGB (default).
        Srgb => ColorSpace::Srgb,
        /// Display P3.
        #[value(alias = "display-p3", alias = "displayp3")]
        P3 => ColorSpace::DisplayP3,
    }
}

value_enum! {
    /// `--format`.
    FormatValue => Format {
        /// JPEG.
        #[value(alias = "jpg")]
        Jpeg => Format::Jpeg,
        /// PNG.
        Png => Format::Png,
        /// 16-bit TIFF.
        #[value(alias = "tif")]
        Tiff => Format::Tiff,
        /// OpenEXR, 32-bit float, scene-referred linear.
        Exr => Format::Exr,
    }
}

value_enum! {
    /// `synth --cfa`.
    CfaValue => Cfa {
        /// Red at the top left.
        #[value(name = "RGGB")]
        Rggb => Cfa::RGGB,
        /// Blue at the top left.
        #[value(name = "BGGR")]
        Bggr => Cfa::BGGR,
        /// Green, red on the first row.
        #[value(name = "GRBG")]
        Grbg => Cfa::GRBG,
        /// Green, blue on the first row.
        #[value(name = "GBRG")]
        Gbrg => Cfa::GBRG,
    }
}

value_enum! {
    /// `synth --chart --light`.
    LightValue => ChartLight {
        /// CIE D65 daylight (default).
        D65 => ChartLight::D65,
        /// CIE illuminant A (tungsten).
        A => ChartLight::A,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value's name parses, with the library's own `FromStr`, to the value it maps to.
    fn same<V: ValueEnum + Copy + std::fmt::Debug, L>(parse: impl Fn(&str) -> Option<L>)
    where
        L: From<V> + PartialEq + std::fmt::Debug,
    {
        for v in V::value_variants() {
            let name = v.to_possible_value().map(|p| p.get_name().to_string());
            let name = name.unwrap_or_default();
            assert_eq!(parse(&name), Some(L::from(*v)), "{v:?} ({name})");
        }
    }

    #[test]
    fn values_match_the_library() {
        same::<MergeValue, MergeMethod>(|s| s.parse().ok());
        same::<ToneValue, ToneMode>(|s| s.parse().ok());
        same::<DemosaicValue, Demosaic>(|s| s.parse().ok());
        same::<HighlightsValue, Highlights>(|s| s.parse().ok());
        same::<ColorSpaceValue, ColorSpace>(|s| s.parse().ok());
        same::<FormatValue, Format>(|s| s.parse().ok());
        same::<CfaValue, Cfa>(Cfa::parse);
        same::<LightValue, ChartLight>(|s| match s {
            "d65" => Some(ChartLight::D65),
            "a" => Some(ChartLight::A),
            _ => None,
        });
    }
}
