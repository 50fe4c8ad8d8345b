//! The `obscura` command: see `obscura --help`.

fn main() -> std::process::ExitCode {
    obscura::cli::main()
}
