use std::fmt;

use serde::{Deserialize, Serialize};

/// The special use of a folder, from RFC 6154 plus the inbox and Outlook's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    Outbox,
}

/// Common names of special folders in the languages mail clients ship in
/// (English, German, French, Spanish, Italian, Dutch, Portuguese, Swedish,
/// Danish, Norwegian, Finnish, Polish, Czech, Russian, Chinese, Japanese),
/// lower-cased. Outlook, Thunderbird, Apple Mail and Gmail names included.
const NAMES: &[(Role, &[&str])] = &[
    (
        Role::Inbox,
        &[
            "inbox",
            "posteingang",
            "boîte de réception",
            "boite de reception",
            "bandeja de entrada",
            "posta in arrivo",
            "postvak in",
            "caixa de entrada",
            "inkorgen",
            "indbakke",
            "innboks",
            "saapuneet",
            "odebrané",
            "skrzynka odbiorcza",
            "входящие",
            "收件箱",
            "受信トレイ",
        ],
    ),
    (
        Role::Sent,
        &[
            "sent",
            "sent items",
            "sent mail",
            "sent messages",
            "gesendet",
            "gesendete objekte",
            "gesendete elemente",
            "éléments envoyés",
            "elements envoyes",
            "envoyés",
            "messages envoyés",
            "elementos enviados",
            "enviados",
            "posta inviata",
            "elementi inviati",
            "verzonden items",
            "verzonden",
            "itens enviados",
            "skickat",
            "skickade objekt",
            "sendt",
            "sendte elementer",
            "sendt post",
            "lähetetyt",
            "wysłane",
            "elementy wysłane",
            "odeslané",
            "отправленные",
            "已发送",
            "已发送邮件",
            "送信済みアイテム",
            "送信済み",
        ],
    ),
    (
        Role::Drafts,
        &[
            "drafts",
            "draft",
            "entwürfe",
            "brouillons",
            "borradores",
            "bozze",
            "concepten",
            "rascunhos",
            "utkast",
            "kladder",
            "luonnokset",
            "kopie robocze",
            "koncepty",
            "черновики",
            "草稿",
            "草稿箱",
            "下書き",
        ],
    ),
    (
        Role::Trash,
        &[
            "trash",
            "deleted items",
            "deleted messages",
            "deleted",
            "bin",
            "papierkorb",
            "gelöschte objekte",
            "gelöschte elemente",
            "corbeille",
            "éléments supprimés",
            "papelera",
            "elementos eliminados",
            "cestino",
            "posta eliminata",
            "elementi eliminati",
            "prullenbak",
            "verwijderde items",
            "lixeira",
            "lixo",
            "itens excluídos",
            "papperskorgen",
            "borttagna objekt",
            "papirkurv",
            "slettet post",
            "slettede elementer",
            "roskakori",
            "poistetut",
            "kosz",
            "elementy usunięte",
            "koš",
            "корзина",
            "удаленные",
            "удалённые",
            "已删除",
            "已删除邮件",
            "削除済みアイテム",
            "ゴミ箱",
        ],
    ),
    (
        Role::Junk,
        &[
            "junk",
            "junk e-mail",
            "junk email",
            "junk mail",
            "spam",
            "bulk mail",
            "junk-e-mail",
            "spamverdacht",
            "courrier indésirable",
            "indésirables",
            "correo no deseado",
            "posta indesiderata",
            "ongewenste e-mail",
            "lixo eletrônico",
            "skräppost",
            "uønsket e-mail",
            "uønsket post",
            "roskaposti",
            "wiadomości-śmieci",
            "nevyžádaná pošta",
            "спам",
            "нежелательная почта",
            "垃圾邮件",
            "迷惑メール",
        ],
    ),
    (
        Role::Archive,
        &[
            "archive",
            "archives",
            "archiv",
            "archivio",
            "archief",
            "arquivo",
            "archivo",
            "arkiv",
            "arkisto",
            "archiwum",
            "архив",
            "存档",
            "归档",
            "アーカイブ",
        ],
    ),
    (
        Role::Outbox,
        &[
            "outbox",
            "postausgang",
            "boîte d'envoi",
            "bandeja de salida",
            "posta in uscita",
            "postvak uit",
            "caixa de saída",
            "utkorgen",
            "udbakke",
            "utboks",
            "lähtevät",
            "skrzynka nadawcza",
            "исходящие",
            "发件箱",
            "送信トレイ",
        ],
    ),
];

impl Role {
    /// Recognises a special folder from its display name, in several languages.
    pub fn guess(name: &str) -> Option<Role> {
        let lower = name.trim().to_lowercase();
        NAMES.iter().find(|(_, names)| names.contains(&lower.as_str())).map(|(role, _)| *role)
    }

    /// The RFC 6154 SPECIAL-USE attribute, where there is one.
    pub fn special_use(self) -> Option<&'static str> {
        match self {
            Role::Inbox | Role::Outbox => None,
            Role::Sent => Some("\\Sent"),
            Role::Drafts => Some("\\Drafts"),
            Role::Trash => Some("\\Trash"),
            Role::Junk => Some("\\Junk"),
            Role::Archive => Some("\\Archive"),
        }
    }
}

/// A folder inside a store: a list of Unicode name segments plus an optional
/// role. The inbox is `["INBOX"]` with [`Role::Inbox`].
///
/// Segments may hold any character, including `/` and `.`: each writer maps
/// them to its own naming (and back) losslessly and refuses names that would
/// escape its target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FolderPath {
    pub segments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

impl Default for FolderPath {
    fn default() -> Self {
        Self::inbox()
    }
}

impl FolderPath {
    /// The inbox.
    pub fn inbox() -> Self {
        FolderPath { segments: vec!["INBOX".to_owned()], role: Some(Role::Inbox) }
    }

    /// A folder from its segments, with the role guessed from its name where
    /// it is a top-level folder (or directly under Gmail's `[Gmail]`).
    /// Empty segments are dropped; no segments at all is the inbox.
    pub fn new<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let segments: Vec<String> =
            segments.into_iter().map(Into::into).filter(|s: &String| !s.is_empty()).collect();
        if segments.is_empty() {
            return Self::inbox();
        }
        let role = match segments.as_slice() {
            [only] => Role::guess(only),
            [parent, child] if is_gmail_root(parent) => Role::guess(child)
                .or_else(|| (child.eq_ignore_ascii_case("all mail")).then_some(Role::Archive)),
            _ => None,
        };
        if role == Some(Role::Inbox) {
            return Self::inbox();
        }
        FolderPath { segments, role }
    }

    /// A folder with an explicit role (or none), not guessed.
    pub fn with_role(segments: Vec<String>, role: Option<Role>) -> Self {
        FolderPath { segments, role }
    }

    pub fn is_inbox(&self) -> bool {
        self.role == Some(Role::Inbox)
            || (self.segments.len() == 1 && self.segments[0].eq_ignore_ascii_case("inbox"))
    }

    /// The last segment: the folder's own name.
    pub fn name(&self) -> &str {
        self.segments.last().map_or("INBOX", String::as_str)
    }

    /// The key two stores' folders are matched on: `INBOX` for the inbox,
    /// otherwise the segments joined with `/` (a `/` inside a segment is
    /// written `\/`, a `\` as `\\`, so the key is unambiguous).
    pub fn key(&self) -> String {
        if self.is_inbox() {
            return "INBOX".to_owned();
        }
        let escaped: Vec<String> =
            self.segments.iter().map(|s| s.replace('\\', "\\\\").replace('/', "\\/")).collect();
        escaped.join("/")
    }

    /// A child folder of this one.
    #[must_use]
    pub fn child(&self, name: impl Into<String>) -> Self {
        let mut segments = self.segments.clone();
        segments.push(name.into());
        FolderPath { segments, role: None }
    }
}

fn is_gmail_root(s: &str) -> bool {
    s.eq_ignore_ascii_case("[gmail]") || s.eq_ignore_ascii_case("[google mail]")
}

impl fmt::Display for FolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_in_several_languages() {
        assert_eq!(Role::guess("Sent Items"), Some(Role::Sent));
        assert_eq!(Role::guess("Gesendete Objekte"), Some(Role::Sent));
        assert_eq!(Role::guess("Éléments supprimés"), Some(Role::Trash));
        assert_eq!(Role::guess("Junk E-mail"), Some(Role::Junk));
        assert_eq!(Role::guess("受信トレイ"), Some(Role::Inbox));
        assert_eq!(Role::guess("Projects"), None);
    }

    #[test]
    fn roles_only_at_top_level() {
        assert_eq!(FolderPath::new(["Sent"]).role, Some(Role::Sent));
        assert_eq!(FolderPath::new(["Work", "Sent"]).role, None);
        assert_eq!(FolderPath::new(["[Gmail]", "Sent Mail"]).role, Some(Role::Sent));
        assert_eq!(FolderPath::new(["Inbox"]), FolderPath::inbox());
        assert_eq!(FolderPath::new(Vec::<String>::new()), FolderPath::inbox());
    }

    #[test]
    fn key_is_unambiguous() {
        assert_eq!(FolderPath::new(["a/b"]).key(), "a\\/b");
        assert_eq!(FolderPath::new(["a", "b"]).key(), "a/b");
        assert_ne!(FolderPath::new(["a/b"]).key(), FolderPath::new(["a", "b"]).key());
        assert_eq!(FolderPath::new(["inbox"]).key(), "INBOX");
    }
}
