//! The column table: which CSV header of Outlook, Google or Thunderbird
//! exports fills which [`Contact`] field.
//!
//! Headers are compared after normalising (lower case, letters and digits
//! only), so Outlook's `"First Name"` and its "DOS CSV" `FirstName` are the
//! same column. A column not in the table becomes an `X-` property.

use std::collections::BTreeMap;

use crate::contact::{Address, Contact, ExtraProperty, Organization, Typed};

/// `First Name` → `firstname`.
pub fn normalise(header: &str) -> String {
    header.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// An `X-` property name for a header with no vCard home.
fn x_name(header: &str) -> String {
    let mut n = String::from("X-");
    let mut dash = false;
    for c in header.trim().chars() {
        if c.is_ascii_alphanumeric() {
            n.push(c.to_ascii_uppercase());
            dash = false;
        } else if !dash && n.len() > 2 {
            n.push('-');
            dash = true;
        }
    }
    let n = n.trim_end_matches('-').to_owned();
    if n.len() <= 2 {
        "X-CSV-FIELD".into()
    } else {
        n
    }
}

/// What a column means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Fn,
    Given,
    Family,
    Additional,
    Prefix,
    Suffix,
    Nickname,
    Email {
        pref: Option<u8>,
        types: &'static [&'static str],
    },
    Phone(&'static [&'static str]),
    /// Address part: kind (`work`, `home`, `other`) and part name.
    Adr(&'static str, AdrPart),
    Company,
    Department,
    JobTitle,
    Birthday,
    BirthYear,
    BirthMonth,
    BirthDayOfMonth,
    Anniversary,
    Url(&'static [&'static str]),
    Notes,
    Categories,
    ScreenName,
    /// Google's numbered groups: `E-mail 1 - Type` / `- Value`, `Phone 2 - Value`, ...
    Google {
        what: String,
        index: u32,
        part: String,
    },
    Extra(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdrPart {
    Street,
    Street2,
    Street3,
    PoBox,
    City,
    Region,
    PostalCode,
    Country,
}

fn adr(kind: &'static str, rest: &str) -> Option<Column> {
    let part = match rest {
        "street" | "address" => AdrPart::Street,
        "street2" | "address2" => AdrPart::Street2,
        "street3" => AdrPart::Street3,
        "pobox" => AdrPart::PoBox,
        "city" => AdrPart::City,
        "state" => AdrPart::Region,
        "postalcode" | "zipcode" | "zip" => AdrPart::PostalCode,
        "country" | "countryregion" => AdrPart::Country,
        _ => return None,
    };
    Some(Column::Adr(kind, part))
}

/// Google's `E-mail 1 - Value` style header.
fn google(n: &str) -> Option<Column> {
    for what in
        ["email", "phone", "address", "website", "im", "organization", "relation", "event", "customfield"]
    {
        if let Some(rest) = n.strip_prefix(what) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                continue;
            }
            let part = rest[digits.len()..].to_owned();
            if part.is_empty() {
                continue;
            }
            return Some(Column::Google { what: what.to_owned(), index: digits.parse().ok()?, part });
        }
    }
    None
}

/// Maps one header to its meaning; `thunderbird_birth` says the file has
/// Thunderbird's `Birth Year/Month/Day` columns, where `Birth Day` is a day.
pub fn column(header: &str, thunderbird_birth: bool) -> Column {
    let n = normalise(header);
    let c = match n.as_str() {
        "displayname" | "name" | "fullname" | "formattedname" => Column::Fn,
        "firstname" | "givenname" => Column::Given,
        "lastname" | "familyname" | "surname" => Column::Family,
        "middlename" | "additionalname" => Column::Additional,
        "title" | "nameprefix" | "prefix" => Column::Prefix,
        "suffix" | "namesuffix" => Column::Suffix,
        "nickname" => Column::Nickname,
        "emailaddress" | "primaryemail" | "email" | "email1" | "emailaddress1" => {
            Column::Email { pref: Some(1), types: &[] }
        }
        "secondaryemail" | "email2address" | "email2" | "emailaddress2" => {
            Column::Email { pref: None, types: &[] }
        }
        "email3address" | "email3" | "emailaddress3" => Column::Email { pref: None, types: &[] },
        "businessphone" | "businessphone2" | "workphone" | "companymainphone" => {
            Column::Phone(&["work", "voice"])
        }
        "homephone" | "homephone2" => Column::Phone(&["home", "voice"]),
        "mobilephone" | "mobilenumber" | "mobile" | "cellphone" | "cellularnumber" => {
            Column::Phone(&["cell"])
        }
        "businessfax" | "workfax" => Column::Phone(&["work", "fax"]),
        "homefax" => Column::Phone(&["home", "fax"]),
        "otherfax" | "faxnumber" | "fax" => Column::Phone(&["fax"]),
        "pager" | "pagernumber" => Column::Phone(&["pager"]),
        "carphone" => Column::Phone(&["car"]),
        "primaryphone" => Column::Phone(&["voice", "pref"]),
        "otherphone" | "phone" => Column::Phone(&["voice"]),
        "assistantsphone" => Column::Phone(&["x-assistant"]),
        "callback" => Column::Phone(&["x-callback"]),
        "radiophone" => Column::Phone(&["x-radio"]),
        "ttytddphone" => Column::Phone(&["textphone"]),
        "isdn" => Column::Phone(&["isdn"]),
        "telex" => Column::Phone(&["x-telex"]),
        "company" | "organization" | "organisation" => Column::Company,
        "department" => Column::Department,
        "jobtitle" => Column::JobTitle,
        "birthday" if thunderbird_birth => Column::BirthDayOfMonth,
        "birthday" | "birthdate" => Column::Birthday,
        "birthyear" => Column::BirthYear,
        "birthmonth" => Column::BirthMonth,
        "anniversary" => Column::Anniversary,
        "webpage" | "webpage1" | "webaddress" | "website" | "personalwebpage" => Column::Url(&["home"]),
        "webpage2" | "businesswebpage" => Column::Url(&["work"]),
        "notes" | "note" => Column::Notes,
        "categories" | "groupmembership" => Column::Categories,
        "screenname" => Column::ScreenName,
        _ => {
            let found = [("business", "work"), ("work", "work"), ("home", "home"), ("other", "other")]
                .iter()
                .find_map(|(p, kind)| n.strip_prefix(p).and_then(|rest| adr(kind, rest)));
            match found.or_else(|| google(&n)) {
                Some(c) => c,
                None => Column::Extra(header.trim().to_owned()),
            }
        }
    };
    c
}

/// Whether a header row maps enough known columns to be a header.
pub fn is_header(fields: &[String]) -> bool {
    if fields.iter().any(|f| f.contains('@')) {
        return false;
    }
    let known = fields.iter().filter(|f| !matches!(column(f, false), Column::Extra(_))).count();
    known >= 1 && known * 3 >= fields.iter().filter(|f| !f.trim().is_empty()).count().max(1)
}

/// Builds one contact from a row, column by column.
#[derive(Debug, Default)]
pub struct RowBuilder {
    contact: Contact,
    adrs: BTreeMap<&'static str, Address>,
    birth: (Option<String>, Option<String>, Option<String>),
    google: BTreeMap<(String, u32), BTreeMap<String, String>>,
}

fn split_multi(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(" ::: ").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl RowBuilder {
    pub fn set(&mut self, col: &Column, header: &str, value: &str) {
        let v = value.trim();
        if v.is_empty() {
            return;
        }
        let c = &mut self.contact;
        match col {
            Column::Fn => c.formatted_name = Some(v.to_owned()),
            Column::Given => c.name.given.push(v.to_owned()),
            Column::Family => c.name.family.push(v.to_owned()),
            Column::Additional => c.name.additional.push(v.to_owned()),
            Column::Prefix => c.name.prefixes.push(v.to_owned()),
            Column::Suffix => c.name.suffixes.push(v.to_owned()),
            Column::Nickname => c.nicknames.push(v.to_owned()),
            Column::Email { pref, types } => {
                let mut t = Typed::new(v);
                t.types = types.iter().map(|s| (*s).to_owned()).collect();
                t.pref = *pref;
                c.emails.push(t);
            }
            Column::Phone(types) => {
                let mut t = Typed::new(v);
                for ty in *types {
                    if *ty == "pref" {
                        t.pref = Some(1);
                    } else {
                        t.types.push((*ty).to_owned());
                    }
                }
                c.phones.push(t);
            }
            Column::Adr(kind, part) => {
                let a = self.adrs.entry(kind).or_default();
                let join = |s: &mut String| {
                    if !s.is_empty() {
                        s.push('\n');
                    }
                    s.push_str(v);
                };
                match part {
                    AdrPart::Street | AdrPart::Street2 | AdrPart::Street3 => join(&mut a.street),
                    AdrPart::PoBox => a.po_box = v.to_owned(),
                    AdrPart::City => a.locality = v.to_owned(),
                    AdrPart::Region => a.region = v.to_owned(),
                    AdrPart::PostalCode => a.postal_code = v.to_owned(),
                    AdrPart::Country => a.country = v.to_owned(),
                }
            }
            Column::Company => c.org.get_or_insert_with(Organization::default).name = v.to_owned(),
            Column::Department => c.org.get_or_insert_with(Organization::default).units.push(v.to_owned()),
            Column::JobTitle => c.title = Some(v.to_owned()),
            Column::Birthday if !is_empty_date(v) => c.birthday = Some(normalise_date(v)),
            Column::Anniversary if !is_empty_date(v) => c.anniversary = Some(normalise_date(v)),
            Column::Birthday | Column::Anniversary => {}
            Column::BirthYear => self.birth.0 = Some(v.to_owned()),
            Column::BirthMonth => self.birth.1 = Some(v.to_owned()),
            Column::BirthDayOfMonth => self.birth.2 = Some(v.to_owned()),
            Column::Url(types) => {
                let mut t = Typed::new(v);
                t.types = types.iter().map(|s| (*s).to_owned()).collect();
                c.urls.push(t);
            }
            Column::Notes => c.notes.push(v.to_owned()),
            Column::Categories => c.categories.extend(
                v.split([';', ','])
                    .flat_map(|s| s.split(" ::: "))
                    .map(|s| s.trim().trim_start_matches('*').trim().to_owned())
                    .filter(|s| !s.is_empty()),
            ),
            Column::ScreenName => c.impps.push(Typed::new(format!("aim:{v}")).with_type("aim")),
            Column::Google { what, index, part } => {
                self.google.entry((what.clone(), *index)).or_default().insert(part.clone(), v.to_owned());
            }
            Column::Extra(_) => c.extra.push(ExtraProperty::text(x_name(header), v)),
        }
    }

    fn google_groups(&mut self) {
        let c = &mut self.contact;
        for ((what, _), parts) in std::mem::take(&mut self.google) {
            let types: Vec<String> = parts
                .get("type")
                .map(|t| {
                    t.split(" ::: ")
                        .map(|s| s.trim().trim_start_matches('*').trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let pref = parts.get("type").is_some_and(|t| t.contains('*')).then_some(1);
            let typed = |v: String| Typed { value: v, types: types.clone(), pref };
            let value = parts.get("value").cloned().unwrap_or_default();
            match what.as_str() {
                "email" => c.emails.extend(split_multi(&value).map(typed)),
                "phone" => {
                    // Google's labels to vCard TEL types.
                    let mut types: Vec<String> = types
                        .iter()
                        .flat_map(|t| match t.as_str() {
                            "mobile" => vec!["cell"],
                            "work fax" => vec!["work", "fax"],
                            "home fax" => vec!["home", "fax"],
                            "main" | "google voice" => vec!["voice"],
                            other => vec![other],
                        })
                        .map(str::to_owned)
                        .collect();
                    types.dedup();
                    c.phones.extend(split_multi(&value).map(|v| Typed {
                        value: v,
                        types: types.clone(),
                        pref,
                    }));
                }
                "website" => c.urls.extend(split_multi(&value).map(typed)),
                "im" => {
                    let service = parts.get("service").cloned().unwrap_or_default().to_ascii_lowercase();
                    c.impps.extend(split_multi(&value).map(|v| {
                        let mut t = typed(v);
                        if !service.is_empty() {
                            t.types.push(service.clone());
                        }
                        t
                    }));
                }
                "address" => {
                    let g = |k: &str| parts.get(k).cloned().unwrap_or_default();
                    c.addresses.push(Address {
                        po_box: g("pobox"),
                        extended: g("extendedaddress"),
                        street: g("street"),
                        locality: g("city"),
                        region: g("region"),
                        postal_code: g("postalcode"),
                        country: g("country"),
                        types,
                        pref,
                        label: parts.get("formatted").cloned(),
                    });
                }
                "organization" => {
                    let org = c.org.get_or_insert_with(Organization::default);
                    if let Some(n) = parts.get("name") {
                        org.name.clone_from(n);
                    }
                    if let Some(d) = parts.get("department") {
                        org.units.push(d.clone());
                    }
                    if let Some(t) = parts.get("title") {
                        c.title = Some(t.clone());
                    }
                }
                _ => {
                    for (part, v) in parts {
                        c.extra.push(ExtraProperty::text(x_name(&format!("{what}-{part}")), v));
                    }
                }
            }
        }
    }

    /// The finished contact (addresses and Thunderbird birthdays assembled).
    pub fn finish(mut self) -> Contact {
        self.google_groups();
        let mut c = self.contact;
        for (kind, mut a) in self.adrs {
            if !a.is_empty() {
                a.types = vec![kind.to_owned()];
                c.addresses.push(a);
            }
        }
        if let (y, Some(m), Some(d)) = &self.birth {
            let (m, d) = (m.parse::<u8>().unwrap_or(0), d.parse::<u8>().unwrap_or(0));
            if m > 0 && d > 0 {
                c.birthday = Some(match y.as_deref().and_then(|y| y.parse::<u16>().ok()) {
                    Some(y) => format!("{y:04}-{m:02}-{d:02}"),
                    None => format!("--{m:02}-{d:02}"),
                });
            }
        } else if let (Some(y), None, None) = &self.birth {
            c.extra.push(ExtraProperty::text("X-BIRTH-YEAR", y.clone()));
        }
        c
    }
}

/// Outlook writes `0/0/00` for "no date".
fn is_empty_date(v: &str) -> bool {
    v.chars().all(|c| matches!(c, '0' | '/' | '.' | '-' | ' '))
}

/// `M/D/YYYY` (Outlook, US) → `YYYY-MM-DD`; anything else is kept as is.
fn normalise_date(v: &str) -> String {
    let parts: Vec<&str> = v.split('/').map(str::trim).collect();
    if let [m, d, y] = parts[..] {
        if let (Ok(m), Ok(d), Ok(y)) = (m.parse::<u8>(), d.parse::<u8>(), y.parse::<u16>()) {
            if (1..=12).contains(&m) && (1..=31).contains(&d) && y >= 1000 {
                return format!("{y:04}-{m:02}-{d:02}");
            }
        }
    }
    v.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_and_dos_headers_agree() {
        assert_eq!(column("First Name", false), column("FirstName", false));
        assert_eq!(column("Business Postal Code", false), Column::Adr("work", AdrPart::PostalCode));
        assert_eq!(column("E-mail 2 Address", false), Column::Email { pref: None, types: &[] });
        assert!(matches!(column("Assistant's Name", false), Column::Extra(_)));
        assert_eq!(x_name("Assistant's Name"), "X-ASSISTANT-S-NAME");
    }

    #[test]
    fn google_groups_pair_type_and_value() {
        let mut b = RowBuilder::default();
        for (h, v) in
            [("E-mail 1 - Type", "* Work"), ("E-mail 1 - Value", "a@x.org ::: b@x.org"), ("Name", "A")]
        {
            b.set(&column(h, false), h, v);
        }
        let c = b.finish();
        assert_eq!(c.emails.len(), 2);
        assert_eq!(c.emails[0].types, vec!["work"]);
        assert_eq!(c.emails[0].pref, Some(1));
    }

    #[test]
    fn dates() {
        assert_eq!(normalise_date("7/4/1976"), "1976-07-04");
        assert!(is_empty_date("0/0/00"));
    }
}
