//! Subcommands of the `invsom` binary, one file each.

mod augment;
mod common;
mod demo;
mod experiment;
mod info;
mod invert;
mod music;
mod train;

use clap::{Parser, Subcommand};

pub use common::Global;

/// invsom: Self-Organizing Maps on Burn that can be inverted.
///
/// Trains maps on CPU or GPU, recovers inputs exactly from a map's activations, and moves inputs
/// along MUSIC trajectories toward a chosen prototype or class. Run with no command for the demo.
#[derive(Parser, Debug)]
#[command(name = "invsom", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a map on the embedded MNIST sample and write pictures (what `cargo run --release` runs).
    Demo(demo::DemoArgs),
    /// Train a map and save it as a model directory.
    Train(train::TrainArgs),
    /// Describe a saved map: sizes, schedule, quality, labels.
    Info(info::InfoArgs),
    /// Recover inputs from the map's activations; report rank, conditioning and errors.
    Invert(invert::InvertArgs),
    /// Write MUSIC variants of labelled samples (label-preserving augmentation) as IDX files.
    Augment(augment::AugmentArgs),
    /// Move an input along a MUSIC trajectory toward a unit, a cell or a class; picture it.
    Music(music::MusicArgs),
    /// Reproduce one of the paper's experiments: pictures (PNG) and tables (Markdown, JSON).
    Experiment(experiment::ExperimentArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => demo::run(&cli.global, &demo::DemoArgs::default()),
        Some(Command::Demo(args)) => demo::run(&cli.global, &args),
        Some(Command::Train(args)) => train::run(&cli.global, &args),
        Some(Command::Info(args)) => info::run(&cli.global, &args),
        Some(Command::Invert(args)) => invert::run(&cli.global, &args),
        Some(Command::Augment(args)) => augment::run(&cli.global, &args),
        Some(Command::Music(args)) => music::run(&cli.global, &args),
        Some(Command::Experiment(args)) => experiment::run(&cli.global, &args),
    }
}
