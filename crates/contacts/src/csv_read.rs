//! CSV and tab-separated address books (Outlook, Google, Thunderbird).
//!
//! The bytes are decoded (UTF-8, UTF-16, legacy code pages), the delimiter
//! is the one of `, ; TAB |` that splits the first line most often, and the
//! header row is recognised by [`crate::csv_map`]. Rows go through the `csv`
//! crate; the column table maps them to [`Contact`]s.

use mailshift_model::{Finding, FindingKind, Location};

use crate::contact::{Contact, ExtraProperty, Typed};
use crate::csv_map::{self, Column, RowBuilder};
use crate::text;

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Counts delimiters outside double quotes in a line.
fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

fn pick_delimiter(first_line: &str) -> u8 {
    DELIMITERS
        .iter()
        .copied()
        .max_by_key(|&d| (count_outside_quotes(first_line, d), d == b','))
        .unwrap_or(b',')
}

/// Reads a CSV address book. Findings name the line of each problem.
pub fn read_csv(bytes: &[u8], origin: &Location, findings: &mut Vec<Finding>) -> Vec<Contact> {
    let decoded = text::decode(bytes);
    if decoded.had_errors {
        findings.push(Finding::warning(
            FindingKind::Malformed,
            origin.clone(),
            format!("some bytes are not valid {} and were replaced by U+FFFD", decoded.encoding.name()),
        ));
    }
    let text = decoded.text.trim_start_matches('\u{feff}');
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delim = pick_delimiter(first_line);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());

    let mut header: Option<Vec<String>> = None;
    let mut columns: Vec<Column> = Vec::new();
    let mut out = Vec::new();
    let mut last: Option<(u64, usize)> = None;
    let mut previous_len = 0usize;
    for (i, rec) in reader.records().enumerate() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                findings.push(Finding::warning(
                    FindingKind::Malformed,
                    origin.clone().with_item(format!("line {line}")),
                    format!("line {line}: unreadable CSV row skipped: {e}"),
                ));
                continue;
            }
        };
        let line = rec.position().map_or(i as u64 + 1, csv::Position::line);
        let mut fields: Vec<String> = rec.iter().map(str::to_owned).collect();
        // A row written with another delimiter than the header (Thunderbird's
        // "tab comma mixed" export): split it by the delimiter it uses.
        if fields.len() == 1 && columns.len() != 1 {
            if let Some(&d) = DELIMITERS.iter().find(|&&d| d != delim && fields[0].contains(d as char)) {
                fields = fields[0].split(d as char).map(str::to_owned).collect();
                findings.push(Finding::info(
                    FindingKind::Malformed,
                    origin.clone().with_item(format!("line {line}")),
                    format!("line {line}: this row uses {:?} as its delimiter", d as char),
                ));
            }
        }
        if header.is_none() && columns.is_empty() {
            if csv_map::is_header(&fields) {
                let tb = fields.iter().any(|f| csv_map::normalise(f) == "birthyear");
                columns = fields.iter().map(|f| csv_map::column(f, tb)).collect();
                header = Some(fields);
                continue;
            }
            findings.push(Finding::info(
                FindingKind::Malformed,
                origin.clone(),
                "the CSV file has no header row; columns were guessed from their content",
            ));
            header = Some(Vec::new());
        }
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let names = header.as_deref().unwrap_or(&[]);
        let mut c = if names.is_empty() {
            guess_row(&fields)
        } else {
            let mut b = RowBuilder::default();
            for (k, v) in fields.iter().enumerate() {
                match (columns.get(k), names.get(k)) {
                    (Some(col), Some(h)) => b.set(col, h, v),
                    _ if !v.trim().is_empty() => {
                        b.set(&Column::Extra(String::new()), &format!("CSV-COLUMN-{}", k + 1), v);
                    }
                    _ => {}
                }
            }
            b.finish()
        };
        c.origin = origin.clone().with_item(format!("line {line}"));
        if let Some((_, n)) = last {
            previous_len = n;
        }
        last = Some((line, fields.len()));
        out.push(c);
    }
    let n_cols = header.as_ref().map_or(0, Vec::len);
    if let Some((line, n)) = last {
        let ends_cleanly = text.ends_with('\n') || text.ends_with('\r');
        let expected = if previous_len > 0 { previous_len } else { n_cols };
        if n < expected && !ends_cleanly {
            findings.push(Finding::warning(
                FindingKind::Truncated,
                origin.clone().with_item(format!("line {line}")),
                format!("line {line}: the last row has {n} of {expected} columns; the file looks truncated"),
            ));
        }
    }
    out
}

/// A row of a file without a header: e-mail addresses are recognised, the
/// first other field is the display name, the rest are kept as `X-` fields.
fn guess_row(fields: &[String]) -> Contact {
    let mut c = Contact::default();
    let mut rest = Vec::new();
    for (k, f) in fields.iter().enumerate() {
        let f = f.trim();
        if f.is_empty() {
            continue;
        }
        if f.contains('@') && !f.contains(' ') {
            c.emails.push(Typed::new(f));
        } else if c.formatted_name.is_none() {
            c.formatted_name = Some(f.to_owned());
        } else {
            rest.push((k, f.to_owned()));
        }
    }
    // "John Doe,John,Doe": given and family name after the display name.
    if let (Some(fname), [(_, a), (_, b), ..]) = (&c.formatted_name, &rest[..]) {
        if *fname == format!("{a} {b}") {
            c.name.given.push(a.clone());
            c.name.family.push(b.clone());
            rest.drain(..2);
        }
    }
    for (k, v) in rest {
        c.extra.push(ExtraProperty::text(format!("X-CSV-COLUMN-{}", k + 1), v));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &[u8]) -> (Vec<Contact>, Vec<Finding>) {
        let mut f = Vec::new();
        (read_csv(s, &Location::path("t.csv"), &mut f), f)
    }

    #[test]
    fn semicolon_header() {
        let (c, _) =
            read(b"Display Name;First Name;Last Name;Primary Email\nJohn Doe;John;Doe;john@doe.invalid\n");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].formatted_name.as_deref(), Some("John Doe"));
        assert_eq!(c[0].emails[0].value, "john@doe.invalid");
        assert_eq!(c[0].name.family, vec!["Doe"]);
    }

    #[test]
    fn outlook_export_in_windows_1252() {
        let text = "\"First Name\",\"Last Name\",\"E-mail Address\",\"Business Phone\",\"Notes\"\r\n\
                    \"Zoë\",\"Müller-Lüdenscheidt\",\"zoe@x.de\",\"+49 30 1234\",\"Grüße aus Köln\"\r\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let (c, _) = read(&bytes);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name.family, vec!["Müller-Lüdenscheidt"]);
        assert_eq!(c[0].notes, vec!["Grüße aus Köln"]);
        assert_eq!(c[0].phones[0].types, vec!["work", "voice"]);
    }

    #[test]
    fn google_export() {
        let text = "Name,Given Name,Family Name,Group Membership,E-mail 1 - Type,E-mail 1 - Value,\
                    Phone 1 - Type,Phone 1 - Value,Address 1 - Type,Address 1 - Street,Address 1 - City\n\
                    Ann Lee,Ann,Lee,* myContacts ::: Friends,* Home,ann@x.org ::: ann@y.org,Mobile,+1 555,Work,1 Main St,Springfield\n";
        let (c, _) = read(text.as_bytes());
        assert_eq!(
            c[0].emails.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(),
            ["ann@x.org", "ann@y.org"]
        );
        assert_eq!(c[0].categories, vec!["myContacts", "Friends"]);
        assert_eq!(c[0].phones[0].types, vec!["cell"]);
        assert_eq!(c[0].addresses[0].locality, "Springfield");
        assert_eq!(c[0].addresses[0].types, vec!["work"]);
    }

    #[test]
    fn no_header() {
        let (c, f) = read(b"John Doe,John,Doe,john@doe.invalid\nJane Doe,Jane,Doe,jane@doe.invalid\n");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].name.given, vec!["Jane"]);
        assert_eq!(c[1].emails[0].value, "jane@doe.invalid");
        assert!(f.iter().any(|f| f.message.contains("no header")));
    }

    #[test]
    fn truncated_file_is_reported_with_its_line() {
        let (c, f) = read(b"First Name,Last Name,Primary Email,Notes,Nickname\nA,B,a@b.c,n,x\nC,\"D");
        assert_eq!(c.len(), 2);
        assert!(f.iter().any(|f| f.kind == FindingKind::Truncated && f.message.contains("line 3")), "{f:?}");
    }
}
