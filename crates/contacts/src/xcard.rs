//! xCard (RFC 6351), the XML form of vCard 4.0, read with `roxmltree`:
//! each `<vcard>` is turned back into vCard text (the mapping is one to
//! one) and read like any vCard.

use mailshift_model::{Finding, FindingKind, Location};
use roxmltree::Node;

use crate::contact::Contact;
use crate::vcard_write::{escape_text, push_folded};

/// Components of the structured properties, in vCard order (RFC 6351 section 5).
fn components(prop: &str) -> Option<&'static [&'static str]> {
    Some(match prop {
        "n" => &["surname", "given", "additional", "prefix", "suffix"],
        "adr" => &["pobox", "ext", "street", "locality", "region", "code", "country"],
        "gender" => &["sex", "identity"],
        "clientpidmap" => &["sourceid", "uri"],
        _ => return None,
    })
}

fn is_text_type(t: &str) -> bool {
    matches!(t, "text" | "unknown" | "surname" | "given" | "additional" | "prefix" | "suffix")
        || components("adr").is_some_and(|c| c.contains(&t))
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(Node::is_element)
}

fn value_of(n: Node<'_, '_>) -> String {
    let t = n.text().unwrap_or("").trim();
    if is_text_type(n.tag_name().name()) {
        escape_text(t)
    } else {
        t.to_owned()
    }
}

fn param_text(n: Node<'_, '_>) -> String {
    let v: Vec<String> = elements(n)
        .map(|v| {
            let s: String =
                v.text().unwrap_or("").trim().chars().filter(|c| !c.is_control() && *c != '"').collect();
            if s.contains([':', ';', ',']) {
                format!("\"{s}\"")
            } else {
                s
            }
        })
        .collect();
    v.join(",")
}

fn property_line(prop: Node<'_, '_>, group: Option<&str>, out: &mut String) {
    let name = prop.tag_name().name();
    let mut line = String::new();
    if let Some(g) = group {
        line.push_str(g);
        line.push('.');
    }
    line.push_str(&name.to_ascii_uppercase());
    let mut values = Vec::new();
    for child in elements(prop) {
        if child.tag_name().name() == "parameters" {
            for p in elements(child) {
                line.push_str(&format!(";{}={}", p.tag_name().name().to_ascii_uppercase(), param_text(p)));
            }
        } else {
            values.push(child);
        }
    }
    let value = match components(name) {
        Some(parts) => parts
            .iter()
            .map(|part| {
                values
                    .iter()
                    .filter(|v| v.tag_name().name() == *part)
                    .map(|v| value_of(*v))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join(";"),
        // ORG holds one <text> per unit; others list several values with commas.
        None if name == "org" => values.iter().map(|v| value_of(*v)).collect::<Vec<_>>().join(";"),
        None => values.iter().map(|v| value_of(*v)).collect::<Vec<_>>().join(","),
    };
    line.push(':');
    line.push_str(&value);
    push_folded(out, &line);
}

/// Reads an xCard document (`<vcards>` with `<vcard>` children).
pub fn read_xcard(text: &str, origin: &Location, findings: &mut Vec<Finding>) -> Vec<Contact> {
    let doc = match roxmltree::Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let pos = e.pos();
            findings.push(Finding::error(
                FindingKind::Malformed,
                origin.clone().with_item(format!("line {}", pos.row)),
                format!("line {}: not valid xCard XML: {e}", pos.row),
            ));
            return Vec::new();
        }
    };
    let mut vcf = String::new();
    for card in doc.descendants().filter(|n| n.is_element() && n.tag_name().name() == "vcard") {
        vcf.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\n");
        for prop in elements(card) {
            if prop.tag_name().name() == "group" {
                let g = prop.attribute("name").unwrap_or("group");
                for p in elements(prop) {
                    property_line(p, Some(g), &mut vcf);
                }
            } else if prop.tag_name().name() != "version" {
                property_line(prop, None, &mut vcf);
            }
        }
        vcf.push_str("END:VCARD\r\n");
    }
    crate::vcard_read::read_vcards(&vcf, origin, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_grouped_and_parameters() {
        let x = r#"<?xml version="1.0"?><vcards xmlns="urn:ietf:params:xml:ns:vcard-4.0"><vcard>
            <fn><text>Simon, P</text></fn>
            <n><surname>Perreault</surname><given>Simon</given><additional/><prefix/><suffix>ing. jr</suffix><suffix>M.Sc.</suffix></n>
            <org><text>Viagenie</text><text>R&amp;D</text></org>
            <group name="item1"><email><parameters><type><text>work</text></type></parameters><text>s@x.org</text></email></group>
            <bday><date>--0203</date></bday>
            <adr><parameters><type><text>work</text></type></parameters><pobox/><ext>Suite D2-630</ext><street>2875 Laurier</street>
              <locality>Quebec</locality><region>QC</region><code>G1V 2M2</code><country>Canada</country></adr>
          </vcard></vcards>"#;
        let mut f = Vec::new();
        let c = read_xcard(x, &Location::path("x.xml"), &mut f);
        assert_eq!(c.len(), 1, "{f:?}");
        let c = &c[0];
        assert_eq!(c.formatted_name.as_deref(), Some("Simon, P"));
        assert_eq!(c.name.suffixes, vec!["ing. jr", "M.Sc."]);
        assert_eq!(c.org.as_ref().unwrap().units, vec!["R&D"]);
        assert_eq!(c.emails[0].value, "s@x.org");
        assert_eq!(c.emails[0].types, vec!["work"]);
        assert_eq!(c.birthday.as_deref(), Some("--02-03"));
        assert_eq!(c.addresses[0].postal_code, "G1V 2M2");
    }

    #[test]
    fn bad_xml_names_the_line() {
        let mut f = Vec::new();
        assert!(read_xcard("<vcards>\n<vcard>\n<fn></n>", &Location::path("x.xml"), &mut f).is_empty());
        assert!(f[0].message.starts_with("line 3:"), "{f:?}");
    }
}
