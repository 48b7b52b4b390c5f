//! Word lists the generator draws from: invented people, example domains
//! (RFC 2606 names and made-up ones), subjects and body vocabulary in
//! English, German, French and Japanese kana.

pub(crate) const FIRST: &[&str] = &[
    "Alice",
    "Bob",
    "Carol",
    "David",
    "Erin",
    "Frank",
    "Grace",
    "Heidi",
    "Ivan",
    "Judy",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
    "Wendy",
    "Jürgen",
    "Björn",
    "Zoë",
    "François",
    "Chloé",
    "José",
    "Søren",
    "Małgorzata",
    "Øystein",
    "Ángel",
    "Hélène",
    "Dörte",
];

pub(crate) const LAST: &[&str] = &[
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Wright",
    "Müller",
    "Schäfer",
    "Lefèvre",
    "Núñez",
    "García",
    "Dubois",
    "Größer",
    "Kowalski",
    "Ødegård",
    "Novák",
];

/// Japanese display names, kana only so that ISO-2022-JP can carry them.
pub(crate) const KANA_NAMES: &[&str] =
    &["やまだ たろう", "さとう はなこ", "スズキ イチロー", "たなか ゆうき"];

pub(crate) const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "corp.example",
    "widgets.example",
    "uni-beispiel.example",
    "societe.example",
    "lists.example.org",
    "shop.example",
];

pub(crate) const LISTS: &[(&str, &str)] = &[
    ("dev", "Developer discussion"),
    ("users", "User support"),
    ("announce", "Announcements"),
    ("commits", "Commit notifications"),
];

pub(crate) const SUBJECTS: &[&str] = &[
    "Quarterly report draft",
    "Meeting notes from Tuesday",
    "Invoice 2023-0042",
    "Build failure on main",
    "Re-scheduling the workshop",
    "Your order has shipped",
    "Question about the migration plan",
    "Holiday rota",
    "Contract renewal",
    "Updated floor plan",
    "Welcome aboard!",
    "Password policy change",
    "Slides for the review",
    "Weekly status",
    "Travel expenses",
    "Server maintenance window this weekend",
];

/// Subjects that need an encoded word (non-ASCII, Latin-1 representable).
pub(crate) const SUBJECTS_LATIN1: &[&str] = &[
    "Grüße aus München",
    "Réunion de l'équipe à 14h",
    "Überweisung für März",
    "Año nuevo, presupuesto nuevo",
    "Angebot für Straßenbau",
];

/// Subjects outside Latin-1 (UTF-8 only).
pub(crate) const SUBJECTS_UTF8: &[&str] = &[
    "Rechnung über 1.250,00 €",
    "Zażółć gęślą jaźń: test",
    "Привет из Новосибирска",
    "Ελληνικά για αρχάριους",
    "会議の議事録",
    "🎉 Launch day",
];

/// Kana subjects that ISO-2022-JP can carry.
pub(crate) const SUBJECTS_JIS: &[&str] =
    &["おしらせ", "ミーティングのごあんない", "しりょう を おくります", "レポート"];

pub(crate) const WORDS: &[&str] = &[
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "for",
    "that",
    "on",
    "with",
    "we",
    "this",
    "it",
    "be",
    "as",
    "are",
    "will",
    "please",
    "can",
    "you",
    "I",
    "our",
    "from",
    "by",
    "at",
    "not",
    "have",
    "all",
    "next",
    "week",
    "report",
    "meeting",
    "server",
    "mailbox",
    "folder",
    "migration",
    "budget",
    "team",
    "review",
    "attached",
    "document",
    "customer",
    "project",
    "schedule",
    "update",
    "question",
    "answer",
    "thanks",
    "before",
    "after",
    "Monday",
    "Friday",
    "deadline",
    "version",
    "release",
    "backup",
    "invoice",
    "order",
    "status",
    "change",
    "request",
    "approval",
    "draft",
    "final",
    "comments",
    "agenda",
    "office",
    "plan",
    "should",
    "would",
    "could",
    "might",
    "also",
    "there",
    "their",
    "about",
    "into",
    "than",
    "then",
];

/// Words with non-ASCII letters, mixed into 8-bit and QP bodies.
pub(crate) const WORDS_LATIN1: &[&str] = &[
    "Grüße",
    "Straße",
    "Änderung",
    "übermorgen",
    "Größe",
    "déjà",
    "été",
    "garçon",
    "façade",
    "naïve",
    "señor",
    "mañana",
    "Øresund",
    "smörgåsbord",
    "crème",
    "brûlée",
];

pub(crate) const WORDS_UTF8: &[&str] =
    &["€", "Zażółć", "Привет", "γεια", "日本語", "—", "“quoted”", "…", "✓"];

pub(crate) const CLIENTS: &[&str] = &[
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101 Thunderbird/102.15.1",
    "X-Mailer: Microsoft Outlook 16.0",
    "X-Mailer: Apple Mail (2.3731.700.6)",
    "User-Agent: Mutt/2.2.12 (2023-09-09)",
    "User-Agent: Roundcube Webmail/1.6.5",
    "X-Mailer: iPhone Mail (20G75)",
];

/// What an attachment claims to be: type, file extension.
pub(crate) const ATTACHMENTS: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("application/zip", "zip"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ("application/octet-stream", "bin"),
];

pub(crate) const FILE_STEMS: &[&str] =
    &["report", "scan", "IMG_4711", "invoice", "Präsentation", "contract", "photo", "export", "données"];

/// Openings for body lines that must be quoted in an mbox.
pub(crate) const FROM_LINES: &[&str] = &[
    "From what I understand, the migration starts next week.",
    "From the meeting notes:",
    "From: the original sender (forwarded below)",
    ">From the archive, quoted once already.",
    ">>From deep inside a quoted reply.",
    "From here on it gets interesting.",
];
