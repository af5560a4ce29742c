//! The `config` room (see docs/architecture.md): the Fortran namelist parser and the typed,
//! validated configuration of a landcycle run.

pub mod namelist;

pub use namelist::{Location, Namelist, NamelistError};
