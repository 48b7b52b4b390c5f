//! LDIF address books (RFC 2849): Thunderbird exports and LDAP exports of
//! Exchange / Active Directory address lists.
//!
//! The line parser is small and ours (no maintained crate reads LDIF
//! content records): it unfolds continuation lines, skips comments and the
//! `version:` line, decodes `::` base64 values and keeps `:<` URLs as text.
//! A bad base64 value is a finding naming its line. The attribute table
//! maps Thunderbird's `mozilla*` and the usual inetOrgPerson / AD names to
//! [`Contact`] fields; the rest become `X-LDIF-` properties.

use std::collections::HashMap;

use base64::Engine as _;
use mailshift_model::{Finding, FindingKind, Location};

use crate::contact::{Address, Contact, ContactKind, ExtraProperty, Organization, Photo, Typed};
use crate::text;

/// One attribute value with the line it started on.
#[derive(Debug, Clone)]
struct Attr {
    name: String,
    value: Vec<u8>,
    line: usize,
}

/// One record (entry) and the line it started on.
#[derive(Debug, Default)]
struct Record {
    attrs: Vec<Attr>,
    line: usize,
}

/// Splits LDIF text into records of decoded attributes.
fn parse_records(text: &str, origin: &Location, findings: &mut Vec<Finding>) -> Vec<Record> {
    // Unfold: (first line number, logical line).
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = line.strip_prefix(' ') {
            if !in_comment {
                if let Some((_, last)) = logical.last_mut() {
                    last.push_str(cont);
                }
            }
            continue;
        }
        in_comment = line.starts_with('#');
        if !in_comment {
            logical.push((i + 1, line.to_owned()));
        }
    }
    let mut records = Vec::new();
    let mut cur = Record::default();
    for (n, line) in logical {
        if line.trim().is_empty() {
            if !cur.attrs.is_empty() {
                records.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let Some(colon) = line.find(':') else {
            findings.push(Finding::warning(
                FindingKind::Malformed,
                origin.clone().with_item(format!("line {n}")),
                format!("line {n}: not an LDIF attribute line, ignored"),
            ));
            continue;
        };
        let name = line[..colon].trim().to_owned();
        let rest = &line[colon + 1..];
        let value = if let Some(b64) = rest.strip_prefix(':') {
            let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(clean.as_bytes()) {
                Ok(v) => v,
                Err(e) => {
                    findings.push(Finding::warning(
                        FindingKind::Malformed,
                        origin.clone().with_item(format!("line {n}")),
                        format!("line {n}: the base64 value of {name:?} is damaged ({e}); the attribute was left out"),
                    ));
                    continue;
                }
            }
        } else if let Some(url) = rest.strip_prefix('<') {
            url.trim().as_bytes().to_vec()
        } else {
            rest.trim_start().as_bytes().to_vec()
        };
        if cur.attrs.is_empty() && name.eq_ignore_ascii_case("version") {
            continue;
        }
        if cur.attrs.is_empty() {
            cur.line = n;
        }
        cur.attrs.push(Attr { name, value, line: n });
    }
    if !cur.attrs.is_empty() {
        records.push(cur);
    }
    records
}

fn utf8(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => text::decode(v).text,
    }
}

/// Lower-cased DN with spaces around separators removed, for member lookup.
fn norm_dn(dn: &str) -> String {
    dn.split(',').map(|p| p.trim().to_lowercase()).collect::<Vec<_>>().join(",")
}

#[derive(Debug, Default)]
struct Builder {
    c: Contact,
    home: Address,
    work: Address,
    birth: (Option<String>, Option<String>, Option<String>),
    display: Option<String>,
    cn: Option<String>,
    member_dns: Vec<String>,
}

impl Builder {
    fn attr(&mut self, a: &Attr, origin: &Location, findings: &mut Vec<Finding>) {
        let key = a.name.split(';').next().unwrap_or("").to_ascii_lowercase();
        if matches!(key.as_str(), "jpegphoto" | "thumbnailphoto" | "photo") {
            if self.c.photo.is_none() && !a.value.is_empty() {
                self.c.photo =
                    Some(Photo::Inline { bytes: a.value.clone(), media_type: Some("image/jpeg".into()) });
            }
            return;
        }
        let v = utf8(&a.value);
        let v = v.trim();
        if v.is_empty() {
            return;
        }
        let c = &mut self.c;
        let phone = |types: &[&str]| {
            let mut t = Typed::new(v);
            t.types = types.iter().map(|s| (*s).to_owned()).collect();
            t
        };
        let line = |s: &mut String| {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(v);
        };
        match key.as_str() {
            "dn" | "changetype" | "modifytimestamp" | "createtimestamp" => {}
            "objectclass" => {
                if matches!(v.to_ascii_lowercase().as_str(), "groupofnames" | "group" | "groupofuniquenames")
                {
                    c.kind = ContactKind::Group;
                }
            }
            "cn" | "commonname" => self.cn = Some(v.to_owned()),
            "displayname" => self.display = Some(v.to_owned()),
            "givenname" => c.name.given.push(v.to_owned()),
            "sn" | "surname" => c.name.family.push(v.to_owned()),
            "initials" => c.name.additional.push(v.to_owned()),
            "mozillanickname" | "xmozillanickname" | "nickname" => c.nicknames.push(v.to_owned()),
            "mail" => c.emails.push(Typed::new(v).with_pref(1)),
            "mozillasecondemail" | "xmozillasecondemail" | "othermailbox" => c.emails.push(Typed::new(v)),
            "proxyaddresses" => {
                if let Some(addr) = v.strip_prefix("smtp:").or_else(|| v.strip_prefix("SMTP:")) {
                    if !c.emails.iter().any(|e| e.value.eq_ignore_ascii_case(addr)) {
                        c.emails.push(Typed::new(addr));
                    }
                } else {
                    c.extra.push(ExtraProperty::text("X-LDIF-PROXYADDRESSES", v));
                }
            }
            "telephonenumber" => c.phones.push(phone(&["work", "voice"])),
            "homephone" => c.phones.push(phone(&["home", "voice"])),
            "mobile" | "cellphone" => c.phones.push(phone(&["cell"])),
            "facsimiletelephonenumber" | "fax" => c.phones.push(phone(&["fax"])),
            "pager" | "pagerphone" => c.phones.push(phone(&["pager"])),
            "othertelephone" => c.phones.push(phone(&["voice"])),
            "homepostaladdress" | "mozillahomestreet" => line(&mut self.home.street),
            "mozillahomepostaladdress2" | "mozillahomestreet2" => line(&mut self.home.street),
            "mozillahomelocalityname" => self.home.locality = v.to_owned(),
            "mozillahomestate" => self.home.region = v.to_owned(),
            "mozillahomepostalcode" => self.home.postal_code = v.to_owned(),
            "mozillahomecountryname" => self.home.country = v.to_owned(),
            "street" | "streetaddress" | "postaladdress" => line(&mut self.work.street),
            "mozillapostaladdress2" | "mozillaworkstreet2" => line(&mut self.work.street),
            "l" | "locality" => self.work.locality = v.to_owned(),
            "st" => self.work.region = v.to_owned(),
            "postalcode" => self.work.postal_code = v.to_owned(),
            "c" | "co" | "countryname" => {
                if self.work.country.is_empty() {
                    self.work.country = v.to_owned();
                }
            }
            "postofficebox" => self.work.po_box = v.to_owned(),
            "title" => c.title = Some(v.to_owned()),
            "o" | "company" => c.org.get_or_insert_with(Organization::default).name = v.to_owned(),
            "ou" | "department" | "orgunit" => {
                c.org.get_or_insert_with(Organization::default).units.push(v.to_owned())
            }
            "mozillaworkurl" | "workurl" => c.urls.push(Typed::new(v).with_type("work")),
            "mozillahomeurl" | "homeurl" => c.urls.push(Typed::new(v).with_type("home")),
            "labeleduri" | "wwwhomepage" | "url" => c.urls.push(Typed::new(v.split(' ').next().unwrap_or(v))),
            "birthyear" => self.birth.0 = Some(v.to_owned()),
            "birthmonth" => self.birth.1 = Some(v.to_owned()),
            "birthday" => self.birth.2 = Some(v.to_owned()),
            "description" | "note" | "info" => c.notes.push(v.to_owned()),
            "member" | "uniquemember" => self.member_dns.push(v.to_owned()),
            "nscpaimscreenname" | "mozilla_aimscreenname" => {
                c.impps.push(Typed::new(format!("aim:{v}")).with_type("aim"));
            }
            k if k.starts_with("mozillacustom") => {
                c.extra.push(ExtraProperty::text(format!("X-CUSTOM{}", &k["mozillacustom".len()..]), v));
            }
            _ => {
                let name: String = a
                    .name
                    .chars()
                    .map(|ch| if ch.is_ascii_alphanumeric() { ch.to_ascii_uppercase() } else { '-' })
                    .collect();
                if name.is_empty() {
                    findings.push(Finding::warning(
                        FindingKind::Malformed,
                        origin.clone().with_item(format!("line {}", a.line)),
                        format!("line {}: an attribute without a name was ignored", a.line),
                    ));
                } else {
                    c.extra.push(ExtraProperty::text(format!("X-LDIF-{name}"), v));
                }
            }
        }
    }

    fn finish(mut self) -> (Contact, Vec<String>) {
        let c = &mut self.c;
        c.formatted_name = self.display.or(self.cn);
        for (kind, mut a) in [("home", self.home), ("work", self.work)] {
            if !a.is_empty() {
                a.types = vec![kind.to_owned()];
                c.addresses.push(a);
            }
        }
        if let (y, Some(m), Some(d)) = &self.birth {
            match (m.parse::<u8>(), d.parse::<u8>(), y.as_deref().map(str::parse::<u16>)) {
                (Ok(m), Ok(d), Some(Ok(y))) => c.birthday = Some(format!("{y:04}-{m:02}-{d:02}")),
                (Ok(m), Ok(d), None) => c.birthday = Some(format!("--{m:02}-{d:02}")),
                _ => c.extra.push(ExtraProperty::text("X-LDIF-BIRTHDAY", format!("{y:?}/{m}/{d}"))),
            }
        }
        (self.c, self.member_dns)
    }
}

/// Reads an LDIF address book. Groups' `member` DNs become `urn:uuid:`
/// references to the contacts of the same file, or `mailto:` URIs.
pub fn read_ldif(bytes: &[u8], origin: &Location, findings: &mut Vec<Finding>) -> Vec<Contact> {
    let decoded = text::decode(bytes);
    let records = parse_records(&decoded.text, origin, findings);
    let mut contacts = Vec::new();
    let mut members = Vec::new();
    let mut dns: HashMap<String, usize> = HashMap::new();
    for r in records {
        let mut b = Builder::default();
        let dn = r.attrs.iter().find(|a| a.name.eq_ignore_ascii_case("dn")).map(|a| utf8(&a.value));
        for a in &r.attrs {
            b.attr(a, origin, findings);
        }
        let (mut c, m) = b.finish();
        c.origin = origin.clone().with_item(format!("line {}", r.line));
        c.uid = Some(crate::stable_uid(&c));
        if let Some(dn) = dn {
            dns.insert(norm_dn(&dn), contacts.len());
        }
        members.push(m);
        contacts.push(c);
    }
    for (i, dns_of_group) in members.into_iter().enumerate() {
        for dn in dns_of_group {
            let uri = match dns.get(&norm_dn(&dn)) {
                Some(&j) => contacts[j].uid.as_ref().map(|u| format!("urn:uuid:{u}")),
                None => dn
                    .split(',')
                    .find_map(|p| p.trim().strip_prefix("mail=").map(|m| format!("mailto:{}", m.trim()))),
            };
            match uri {
                Some(u) => contacts[i].members.push(u),
                None => {
                    findings.push(Finding::warning(
                        FindingKind::Missing,
                        contacts[i].origin.clone(),
                        format!("group member {dn:?} is not in this file and has no e-mail address; kept as X-LDIF-MEMBER"),
                    ));
                    contacts[i].extra.push(ExtraProperty::text("X-LDIF-MEMBER", dn));
                }
            }
        }
    }
    contacts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> (Vec<Contact>, Vec<Finding>) {
        let mut f = Vec::new();
        (read_ldif(s.as_bytes(), &Location::path("t.ldif"), &mut f), f)
    }

    #[test]
    fn folding_base64_comments_and_groups() {
        let (c, f) = read(
            "version: 1\n# a comment\n dn: continued comment\ndn: cn=list\nobjectclass: groupOfNames\ncn: list\n\
             member: cn=A,mail=a@x.org\nmember: cn=Gone\n\ndn: cn=A,mail=a@x.org\ncn:: w4FuYQ==\nmail: a@x\n .org\n",
        );
        assert!(f.iter().any(|f| f.message.contains("Gone")), "{f:?}");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].formatted_name.as_deref(), Some("Ána"));
        assert_eq!(c[1].emails[0].value, "a@x.org");
        assert_eq!(c[0].kind, ContactKind::Group);
        assert_eq!(c[0].members, vec![format!("urn:uuid:{}", c[1].uid.clone().unwrap())]);
    }

    #[test]
    fn bad_base64_names_its_line() {
        let (c, f) = read("dn: cn=x\ncn: x\ndescription:: !!!notbase64\n");
        assert_eq!(c.len(), 1);
        assert!(f.iter().any(|f| f.message.starts_with("line 3:")), "{f:?}");
    }
}
