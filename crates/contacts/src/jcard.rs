//! jCard (RFC 7095), the JSON form of vCard 4.0: each card is turned back
//! into vCard text (the mapping is one to one) and read like any vCard.

use mailshift_model::{Finding, FindingKind, Location};
use serde_json::Value;

use crate::contact::Contact;
use crate::vcard_write::{basic_date, escape_text, push_folded};

fn scalar(v: &Value, text: bool) -> String {
    match v {
        Value::String(s) if text => escape_text(s),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One property value: structured arrays become `;`-separated components
/// whose own arrays are `,`-separated.
fn value(v: &Value, text: bool) -> String {
    match v {
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::Array(multi) => multi.iter().map(|m| scalar(m, text)).collect::<Vec<_>>().join(","),
                other => scalar(other, text),
            })
            .collect::<Vec<_>>()
            .join(";"),
        other => scalar(other, text),
    }
}

fn param_value(v: &Value) -> String {
    let one = |s: &str| {
        let s: String = s.chars().filter(|c| !c.is_control() && *c != '"').collect();
        if s.contains([':', ';', ',']) {
            format!("\"{s}\"")
        } else {
            s
        }
    };
    match v {
        Value::Array(a) => a.iter().map(|x| one(&scalar(x, false))).collect::<Vec<_>>().join(","),
        other => one(&scalar(other, false)),
    }
}

/// One jCard (`["vcard", [props...]]`) as vCard 4.0 text.
fn card_text(card: &Value) -> Option<String> {
    let Value::Array(outer) = card else { return None };
    if outer.first()?.as_str()? != "vcard" {
        return None;
    }
    let mut out = String::from("BEGIN:VCARD\r\n");
    for prop in outer.get(1)?.as_array()? {
        let Some(p) = prop.as_array() else { continue };
        let (Some(name), Some(params), Some(kind)) = (
            p.first().and_then(Value::as_str),
            p.get(1).and_then(Value::as_object),
            p.get(2).and_then(Value::as_str),
        ) else {
            continue;
        };
        if name.eq_ignore_ascii_case("version") {
            out.push_str("VERSION:4.0\r\n");
            continue;
        }
        let mut line = String::new();
        if let Some(g) = params.get("group").and_then(Value::as_str) {
            line.push_str(g);
            line.push('.');
        }
        line.push_str(&name.to_ascii_uppercase());
        for (k, v) in params {
            if k != "group" {
                line.push_str(&format!(";{}={}", k.to_ascii_uppercase(), param_value(v)));
            }
        }
        let text = kind == "text" || kind == "unknown";
        if !text && !matches!(kind, "uri" | "date-and-or-time" | "timestamp" | "date" | "date-time") {
            line.push_str(&format!(";VALUE={kind}"));
        }
        // jCard dates are ISO 8601 extended; vCard text wants basic.
        let dated = matches!(kind, "date-and-or-time" | "timestamp" | "date" | "date-time");
        let values: Vec<String> = p[3..]
            .iter()
            .map(|v| value(v, text))
            .map(|v| if dated { basic_date(&v).unwrap_or(v) } else { v })
            .collect();
        line.push(':');
        line.push_str(&values.join(","));
        push_folded(&mut out, &line);
    }
    out.push_str("END:VCARD\r\n");
    Some(out)
}

/// Reads a jCard file (one card or an array of cards).
pub fn read_jcard(text: &str, origin: &Location, findings: &mut Vec<Finding>) -> Vec<Contact> {
    let json: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            findings.push(Finding::error(
                FindingKind::Malformed,
                origin.clone().with_item(format!("line {}", e.line())),
                format!("line {}: not valid jCard JSON: {e}", e.line()),
            ));
            return Vec::new();
        }
    };
    let cards: Vec<&Value> = match &json {
        Value::Array(a) if a.first().and_then(Value::as_str) == Some("vcard") => vec![&json],
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    };
    let mut vcf = String::new();
    for (i, c) in cards.iter().enumerate() {
        match card_text(c) {
            Some(t) => vcf.push_str(&t),
            None => findings.push(Finding::warning(
                FindingKind::Malformed,
                origin.clone().with_item(format!("card {}", i + 1)),
                "this JSON value is not a jCard and was skipped",
            )),
        }
    }
    crate::vcard_read::read_vcards(&vcf, origin, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_and_multi_values() {
        let j = r#"["vcard",[["version",{},"text","4.0"],["fn",{},"text","A, B"],
            ["n",{},"text",["Perreault","Simon","","",["ing. jr","M.Sc."]]],
            ["email",{"type":"work"},"text","s@x.org"],["categories",{},"text","a","b"],
            ["bday",{},"date-and-or-time","--02-03"],["anniversary",{},"date-and-or-time","2009-08-08T14:30:00-05:00"]]]"#;
        let mut f = Vec::new();
        let c = read_jcard(j, &Location::path("j.json"), &mut f);
        assert_eq!(c.len(), 1, "{f:?}");
        assert_eq!(c[0].formatted_name.as_deref(), Some("A, B"));
        assert_eq!(c[0].name.suffixes, vec!["ing. jr", "M.Sc."]);
        assert_eq!(c[0].emails[0].types, vec!["work"]);
        assert_eq!(c[0].categories, vec!["a", "b"]);
        assert_eq!(c[0].birthday.as_deref(), Some("--02-03"));
        assert_eq!(c[0].anniversary.as_deref(), Some("2009-08-08T14:30:00-05:00"));
    }
}
