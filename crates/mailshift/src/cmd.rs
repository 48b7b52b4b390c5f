//! One module per subcommand: its flags (`Args`) and `run`.

pub mod backup;
pub mod compare;
pub mod contacts;
pub mod convert;
pub mod drill;
pub mod inspect;
pub mod restore;
pub mod upload;
pub mod verify;
