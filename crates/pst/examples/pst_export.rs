//! Writes every message of a PST as `OUT/<n>.eml` (for eyeballing output).
#![allow(clippy::print_stdout)]
use std::ops::ControlFlow;

use mailshift_model::{Item, Source};
use mailshift_pst::{PstOptions, PstSource};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(pst), Some(out)) = (args.next(), args.next()) else {
        println!("usage: pst_export FILE.pst OUTDIR");
        return;
    };
    let src = PstSource::open(pst.as_ref(), PstOptions { recover: std::env::var_os("RECOVER").is_some() })
        .expect("open");
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut n = 0;
    for unit in src.units(&mut Vec::new()).expect("units") {
        src.read_unit(&unit, &mut |item| {
            if let Item::Message(m) = item {
                n += 1;
                std::fs::write(format!("{out}/{n}.eml"), &m.raw).expect("write");
                println!(
                    "{n}: {} {:?} {}",
                    unit.folder.key(),
                    m.envelope.received,
                    m.envelope.flags.maildir_letters()
                );
            }
            ControlFlow::Continue(())
        })
        .expect("read");
    }
}
