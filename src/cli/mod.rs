//! The `rebucket` command line: `serve`, and the operator verbs that talk to the admin API.

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
