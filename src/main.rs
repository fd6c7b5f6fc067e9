//! The `rebucket` binary: everything lives in the library; see [`rebucket::cli`].

fn main() -> std::process::ExitCode {
    rebucket::cli::main()
}
