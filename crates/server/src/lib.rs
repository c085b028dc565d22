//! The `quartier` program: configuration, start-up, background workers and the command line.

pub mod demo;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod worker;

pub use settings::{LogFormat, Secret, Settings};
pub use startup::Application;
