//! Integration tests of mailshift-maildir: write, read back, re-run, crash, Dovecot.

mod crash;
mod deferred;
mod dovecot;
mod read;
mod roundtrip;
mod support;
mod throughput;
