use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = meshmon::cli::Cli::parse();
    meshmon::cli::run(cli)
}
