//! The ColorChecker Classic chart's reference colours.

/// The ColorChecker Classic patches as 8-bit sRGB (X-Rite's published values), in reading
/// order: dark skin, light skin, blue sky, foliage, blue flower, bluish green, orange,
/// purplish blue, moderate red, purple, yellow green, orange yellow, blue, green, red, yellow,
/// magenta, cyan, white, neutral 8, neutral 6.5, neutral 5, neutral 3.5, black.
pub const COLORCHECKER_SRGB: [[u8; 3]; 24] = [
    [115, 82, 68],
    [194, 150, 130],
    [98, 122, 157],
    [87, 108, 67],
    [133, 128, 177],
    [103, 189, 170],
    [214, 126, 44],
    [80, 91, 166],
    [193, 90, 99],
    [94, 60, 108],
    [157, 188, 64],
    [224, 163, 46],
    [56, 61, 150],
    [70, 148, 73],
    [175, 54, 60],
    [231, 199, 31],
    [187, 86, 149],
    [8, 133, 161],
    [243, 243, 242],
    [200, 200, 200],
    [160, 160, 160],
    [122, 122, 121],
    [85, 85, 85],
    [52, 52, 52],
];

/// Indices of the six neutral patches (19-24 in the chart's numbering).
pub const NEUTRALS: std::ops::Range<usize> = 18..24;
