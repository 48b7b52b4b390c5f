//! The one contact model every address-book reader fills and the vCard
//! writer reads. It is a superset of what vCard 3.0/4.0 can say, so a reader
//! (vCard, CSV, LDIF, and the PST reader living in another crate) never has
//! to drop a field: what has no home gets an [`ExtraProperty`].

use mailshift_model::Location;

/// What a card describes (vCard 4 `KIND`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ContactKind {
    #[default]
    Individual,
    /// A distribution list: its [`Contact::members`] are the entries.
    Group,
    Org,
    Location,
    /// Any other value, kept verbatim.
    Other(String),
}

/// The structured name (vCard `N`): every part may hold several values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructuredName {
    pub family: Vec<String>,
    pub given: Vec<String>,
    pub additional: Vec<String>,
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
}

impl StructuredName {
    pub fn is_empty(&self) -> bool {
        [&self.family, &self.given, &self.additional, &self.prefixes, &self.suffixes]
            .iter()
            .all(|v| v.iter().all(String::is_empty))
    }
}

/// A value with `TYPE` parameters and an optional preference (1 = most
/// preferred, as vCard 4 `PREF`). Used for e-mail, phones, URLs, IM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typed {
    pub value: String,
    /// Lower-case type names: `work`, `home`, `cell`, `fax`, `internet`, ...
    pub types: Vec<String>,
    pub pref: Option<u8>,
}

impl Typed {
    pub fn new(value: impl Into<String>) -> Self {
        Typed { value: value.into(), ..Typed::default() }
    }

    #[must_use]
    pub fn with_type(mut self, t: &str) -> Self {
        self.types.push(t.to_ascii_lowercase());
        self
    }

    #[must_use]
    pub fn with_pref(mut self, pref: u8) -> Self {
        self.pref = Some(pref);
        self
    }
}

/// A postal address (vCard `ADR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub po_box: String,
    pub extended: String,
    pub street: String,
    pub locality: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub types: Vec<String>,
    pub pref: Option<u8>,
    /// The formatted label, when the source had one.
    pub label: Option<String>,
}

impl Address {
    pub fn is_empty(&self) -> bool {
        [
            &self.po_box,
            &self.extended,
            &self.street,
            &self.locality,
            &self.region,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

/// The organisation and its units (department, ...), vCard `ORG`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organization {
    pub name: String,
    pub units: Vec<String>,
}

/// A picture: the decoded bytes and their media type, or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Photo {
    /// Bytes as found in the source (never re-encoded) and the media type,
    /// e.g. `image/jpeg`, when known.
    Inline { bytes: Vec<u8>, media_type: Option<String> },
    /// An external URI (http, cid, ...).
    Uri(String),
}

/// A property that has no field here: kept and written back so nothing is
/// lost. Names from non-vCard sources are `X-` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraProperty {
    /// The vCard property group (`item1` in `item1.X-ABLABEL`).
    pub group: Option<String>,
    /// Upper-case property name.
    pub name: String,
    /// Parameters as name (upper case) and values.
    pub params: Vec<(String, Vec<String>)>,
    /// The value components, unescaped (several for structured values, joined with `;`).
    pub values: Vec<String>,
}

impl ExtraProperty {
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        ExtraProperty { name: name.into(), values: vec![value.into()], ..ExtraProperty::default() }
    }
}

/// One contact or distribution list, with every field the source had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub kind: ContactKind,
    pub uid: Option<String>,
    /// The display name (vCard `FN`).
    pub formatted_name: Option<String>,
    pub name: StructuredName,
    pub nicknames: Vec<String>,
    /// Every address, in source order; `pref` keeps the source's preference.
    pub emails: Vec<Typed>,
    pub phones: Vec<Typed>,
    pub addresses: Vec<Address>,
    pub org: Option<Organization>,
    pub title: Option<String>,
    pub role: Option<String>,
    /// As found: `YYYY-MM-DD`, `--MM-DD`, `YYYYMMDD` or free text.
    pub birthday: Option<String>,
    pub anniversary: Option<String>,
    pub urls: Vec<Typed>,
    /// Instant messaging: `xmpp:`, `sip:`, `aim:` URIs (type holds the service when no scheme).
    pub impps: Vec<Typed>,
    pub notes: Vec<String>,
    pub categories: Vec<String>,
    pub photo: Option<Photo>,
    /// Members of a group: `urn:uuid:...` or `mailto:...` URIs.
    pub members: Vec<String>,
    pub extra: Vec<ExtraProperty>,
    /// Where the contact came from (file, byte offset, card index) for findings.
    pub origin: Location,
}

impl Contact {
    /// A human label for reports: display name, else the first e-mail, else the uid.
    pub fn label(&self) -> String {
        let l = self.display_name();
        if l.is_empty() {
            self.uid.clone().unwrap_or_default()
        } else {
            l
        }
    }

    /// The display name to write (`FN` is mandatory in vCard 3 and 4): the
    /// source's, else one made of the name, e-mail or organisation.
    pub fn display_name(&self) -> String {
        self.formatted_name
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| {
                let n = [self.name.given.join(" "), self.name.family.join(" ")].join(" ");
                Some(n.trim().to_owned()).filter(|s| !s.is_empty())
            })
            .or_else(|| self.emails.first().map(|e| e.value.clone()))
            .or_else(|| self.org.as_ref().map(|o| o.name.clone()))
            .unwrap_or_default()
    }

    /// True when no field at all is set (an empty CSV row, say).
    pub fn is_empty(&self) -> bool {
        let bare = Contact { kind: self.kind.clone(), origin: self.origin.clone(), ..Contact::default() };
        *self == bare
    }
}
