//! The `invsom` command line: train, inspect, invert and walk Self-Organizing Maps.
//! Thin by design: argument parsing, conversion into library configs, and reporting.

mod cli;

fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
