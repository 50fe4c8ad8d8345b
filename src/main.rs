//! The `obscura` command: see `obscura --help`. Built with the `cli` feature (on by default);
//! everything it does is library API ([`obscura`]).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
