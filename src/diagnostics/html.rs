//! The diagnostics page: one self-contained HTML file (inline style, one small inline
//! script, images referenced by relative names).

use std::fmt::Write;

use super::FrameEntry;

/// What the page shows.
pub(super) struct Page<'a> {
    /// Why the reference is the one it is.
    pub why: &'a str,
    pub frames: &'a [FrameEntry],
    pub reference: Option<usize>,
    pub merged: bool,
    /// Clipped photosites of the reference, and how many were recovered (when known).
    pub highlights: Option<(usize, Option<usize>)>,
    /// Whether a frame shorter than the reference came (a bracket).
    pub shorter: bool,
    /// The run's figures.
    pub report: &'a serde_json::Value,
    /// The overview pictures' size.
    pub size: Option<(u32, u32)>,
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JSON value as short text (numbers to 4 significant digits).
fn short(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() != 0.0 => format!("{:.4}", f)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "–".into(),
        other => other.to_string(),
    }
}

/// The run's figures: scalars at the top level, and one level into objects (stage times,
/// noise); arrays are left to report.json.
fn figures(report: &serde_json::Value) -> String {
    let mut rows = String::new();
    if let serde_json::Value::Object(m) = report {
        for (k, v) in m {
            match v {
                serde_json::Value::Array(_) => {}
                serde_json::Value::Object(inner) => {
                    let parts: Vec<String> = inner
                        .iter()
                        .filter(|(_, v)| !v.is_array() && !v.is_object())
                        .map(|(ik, iv)| format!("{ik} {}", short(iv)))
                        .collect();
                    if !parts.is_empty() {
                        let _ = writeln!(
                            rows,
                            "<tr><th>{}</th><td>{}</td></tr>",
                            esc(k),
                            esc(&parts.join(", "))
                        );
                    }
                }
                _ => {
                    let _ = writeln!(
                        rows,
                        "<tr><th>{}</th><td>{}</td></tr>",
                        esc(k),
                        esc(&short(v))
                    );
                }
            }
        }
    }
    rows
}

/// An image tag that links to the image.
fn img(src: &str, alt: &str, class: &str) -> String {
    format!(
        "<a href=\"{s}\"><img src=\"{s}\" alt=\"{a}\" class=\"{class}\"></a>",
        s = esc(src),
        a = esc(alt)
    )
}

/// The page.
pub(super) fn page(p: &Page) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>obscura diagnostics</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; background: #f4f4f4; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; background: #fff; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }}
.map {{ width: {w}px; max-width: 30vw; border: 1px solid #888; }}
.full {{ max-width: 96vw; border: 1px solid #888; }}
.crop {{ image-rendering: pixelated; border: 1px solid #888; }}
.ref {{ background: #fff1dc; }}
.legend {{ display: inline-block; width: 160px; height: 12px; vertical-align: middle; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }}
figcaption {{ font-size: 0.9em; }}
</style>
</head>
<body data-images="pending">
<h1>obscura diagnostics</h1>
"#,
        w = p.size.map_or(400, |s| s.0.min(400))
    );
    let _ = writeln!(
        h,
        "<h2>The run</h2>\n<table class=\"figures\">\n{}</table>\n<p>Every figure: <a href=\"report.json\">report.json</a>.</p>",
        figures(p.report)
    );

    let _ = writeln!(
        h,
        "<h2>The reference</h2>\n<p>{}. Scores of every frame under that rule (higher wins; only the \
         first three frames are candidates):</p>\n{}",
        esc(p.why),
        img("reference_choice.png", "reference choice", "full")
    );

    let _ = writeln!(
        h,
        "<h2>Noise</h2>\n<p>The merge's noise model (variance = S x + O per colour) against the \
         variance measured in the reference's flat areas, per brightness bin.</p>\n{}",
        img("noise.png", "noise model and measured variance", "full")
    );

    let _ = writeln!(
        h,
        "<h2 id=\"frames\">Frames</h2>\n<p>Alignment: one arrow per tile from its centre along its displacement \
         (magnified by the factor printed), coloured by the share of unreliable tiles around it \
         <span class=\"legend\" style=\"background: linear-gradient(to right, rgb(25,225,40), \
         rgb(255,225,40), rgb(255,25,40))\"></span> none to all. Weights: the merge's robustness \
         <span class=\"legend\" style=\"background: linear-gradient(to right, #000, #fff)\"></span> \
         0 (rejected: motion or misalignment, the reference is kept) to 1 (averaged in).</p>"
    );
    let _ = writeln!(
        h,
        "<table class=\"frames\">\n<tr><th>frame</th><th>file</th><th>score</th><th>exposure</th>\
         <th>median shift</th><th>unreliable tiles</th><th>mean weight</th><th>alignment</th>\
         <th>weights</th></tr>"
    );
    for f in p.frames {
        let is_ref = Some(f.index) == p.reference;
        let role = if is_ref {
            " (reference)"
        } else if f.candidate {
            " (candidate)"
        } else {
            ""
        };
        let score = f.score.map_or("–".into(), |s| format!("{s:.4}"));
        let (align, weights) = if is_ref {
            (
                "the reference (dimmed below the arrows):<br>".to_string()
                    + &img("reference.png", "reference", "map"),
                String::new(),
            )
        } else {
            (
                f.alignment_png
                    .as_deref()
                    .map_or(String::new(), |s| img(s, "alignment", "map")),
                f.weights_png
                    .as_deref()
                    .map_or("not merged".into(), |s| img(s, "robustness weights", "map")),
            )
        };
        let _ = writeln!(
            h,
            "<tr{cls}><td>{}{role}</td><td>{}</td><td>{score}</td><td>{:+.2} EV</td>\
             <td>({:+.2}, {:+.2}) px</td><td>{:.1}%</td><td>{}</td><td>{align}</td><td>{weights}</td></tr>",
            f.index,
            esc(&f.file),
            f.exposure_ev,
            f.median[0],
            f.median[1],
            100.0 * f.unreliable,
            f.mean_weight.map_or("–".into(), |w| format!("{w:.3}")),
            cls = if is_ref { " class=\"ref\"" } else { "" },
        );
    }
    h.push_str("</table>\n");

    if p.merged {
        let _ = writeln!(
            h,
            "<h2 id=\"merge\">The merge</h2>\n<p>The most detailed region at 100%, rendered alike (bilinear \
             demosaic, white balance, sRGB curve):</p>\n<figure>{}<figcaption>the reference</figcaption></figure>\
             <figure>{}<figcaption>merged</figcaption></figure>",
            img("crop_reference.png", "reference crop", "crop"),
            img("crop_merged.png", "merged crop", "crop")
        );
        let what = match p.highlights {
            Some((0, _)) => "The reference has no clipped photosites.".to_string(),
            Some((c, Some(r))) if p.shorter => format!(
                "{r} of the reference's {c} clipped photosites were recovered from shorter \
                 frames (white; grey: clipped in every frame)."
            ),
            Some((c, None)) => format!(
                "The reference has {c} clipped photosites (grey); this merge weighs shorter \
                 frames per pixel and does not list what it recovered."
            ),
            Some((c, _)) => format!(
                "The reference has {c} clipped photosites (grey); no frame is shorter than \
                 the reference, so none could be recovered."
            ),
            None => String::new(),
        };
        let _ = writeln!(
            h,
            "<h3>Highlights</h3>\n<p>{}</p>\n{}",
            esc(&what),
            img("highlights.png", "recovered highlights", "map")
        );
    }

    if !p.merged && p.size.is_some() {
        let _ = writeln!(
            h,
            "<h2 id=\"merge\">The reference at 100%</h2>\n<p>Its most detailed region (nothing was \
             merged):</p>\n{}",
            img("crop_reference.png", "reference crop", "crop")
        );
    }

    // marks the page once every image has loaded (checked by the tests in headless Chromium)
    h.push_str(
        r#"<script>
function obscuraCheck() {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = (ok === imgs.length ? "loaded " : "broken ") + ok + "/" + imgs.length;
}
window.addEventListener("load", obscuraCheck);
</script>
</body>
</html>
"#,
    );
    h
}
