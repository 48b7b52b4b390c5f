//! One module per subcommand: its flags (`Args`) and `run`.

pub mod compare;
pub mod contacts;
pub mod convert;
pub mod inspect;
