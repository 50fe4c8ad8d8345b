//! `obscura look list` and `obscura look export`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use obscura::Error;
use obscura::error::Result;
use obscura::look::Look;

use super::say;

#[derive(Debug, Subcommand)]
pub(crate) enum LookCommand {
    /// Print the built-in looks with what each does.
    List,
    /// Write a look's colour (curve, table, saturation, channel mix) as a .cube 3D LUT on
    /// sRGB-encoded values. Vignette, grain, tone mapping and sharpening cannot be part of a
    /// LUT and are left out.
    Export(LookExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LookExportArgs {
    /// A built-in look's name or a look .toml file.
    look: String,
    /// Output .cube file.
    #[arg(long, short)]
    output: PathBuf,
    /// Entries per axis (2 to 256). 65 keeps every built-in look within 1/255 of the look
    /// itself; 33 can be off by 2/255 on saturated reds.
    #[arg(long, default_value_t = 65)]
    size: usize,
}

/// `obscura look ...`.
pub(crate) fn look(c: LookCommand) -> Result<()> {
    match c {
        LookCommand::List => {
            for name in Look::BUILTIN {
                if let Some(l) = Look::builtin(name) {
                    say!("{name:<10} {}", l.description);
                }
            }
            Ok(())
        }
        LookCommand::Export(a) => look_export(a),
    }
}

fn look_export(a: LookExportArgs) -> Result<()> {
    let ext = a.output.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !ext.eq_ignore_ascii_case("cube") {
        return Err(Error::parameter(
            "--output",
            format!("{}: a LUT is written as .cube", a.output.display()),
        ));
    }
    let look = Look::resolve(&a.look)?;
    let lut = look.bake(a.size)?;
    lut.save_cube(&a.output)?;
    eprintln!(
        "wrote {} ({}^3 LUT of look {:?}; its vignette, grain, tone and sharpening are not \
         part of a LUT)",
        a.output.display(),
        lut.size,
        look.name
    );
    Ok(())
}
