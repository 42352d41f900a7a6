//! `aman plan`: the member's response plan, sealed to the contacts with the note.

use aman_client::plan::Lang;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

/// `aman plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanAction {
    /// Seal your plan to your contacts: they read it with every alert and drill.
    Set {
        /// The plan, from a file, or `-` for stdin (an empty one removes it).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
    /// Print your plan.
    Show,
    /// Print a starting plan drawn from published guidance for human-rights defenders.
    Template {
        /// Its language.
        #[arg(long, value_enum, default_value_t = TemplateLang::En)]
        lang: TemplateLang,
    },
}

/// The languages a template is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateLang {
    /// English.
    En,
    /// Arabic (Modern Standard Arabic).
    Ar,
}

impl From<TemplateLang> for Lang {
    fn from(lang: TemplateLang) -> Lang {
        match lang {
            TemplateLang::En => Lang::En,
            TemplateLang::Ar => Lang::Ar,
        }
    }
}
