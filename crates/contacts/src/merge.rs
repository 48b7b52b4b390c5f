//! Merging duplicate contacts (only with `--merge`): two contacts are the
//! same when they share a UID, or have the same display name and the same
//! set of e-mail addresses. The later one's fields are added to the first
//! (no value is dropped) and a finding names both.

use std::collections::HashMap;

use mailshift_model::{Finding, FindingKind};

use crate::contact::Contact;

fn key(c: &Contact) -> Option<String> {
    let mut emails: Vec<String> = c.emails.iter().map(|e| e.value.trim().to_lowercase()).collect();
    emails.sort();
    emails.dedup();
    let name = c.label().trim().to_lowercase();
    (!name.is_empty() || !emails.is_empty()).then(|| format!("{name}\0{}", emails.join("\0")))
}

fn add_missing<T: PartialEq + Clone>(into: &mut Vec<T>, from: &[T]) {
    for x in from {
        if !into.contains(x) {
            into.push(x.clone());
        }
    }
}

/// Adds every value of `b` that `a` lacks.
fn absorb(a: &mut Contact, b: &Contact) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if a.$f.is_none() { a.$f.clone_from(&b.$f); } )* };
    }
    fill!(uid, formatted_name, org, title, role, birthday, anniversary, photo);
    if a.name.is_empty() {
        a.name = b.name.clone();
    }
    add_missing(&mut a.nicknames, &b.nicknames);
    add_missing(&mut a.emails, &b.emails);
    add_missing(&mut a.phones, &b.phones);
    add_missing(&mut a.addresses, &b.addresses);
    add_missing(&mut a.urls, &b.urls);
    add_missing(&mut a.impps, &b.impps);
    add_missing(&mut a.notes, &b.notes);
    add_missing(&mut a.categories, &b.categories);
    add_missing(&mut a.members, &b.members);
    add_missing(&mut a.extra, &b.extra);
}

/// Returns the merged list and the number of contacts merged away.
pub fn merge_duplicates(contacts: &[Contact], findings: &mut Vec<Finding>) -> (Vec<Contact>, u64) {
    let mut out: Vec<Contact> = Vec::with_capacity(contacts.len());
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut dups = 0;
    for c in contacts {
        let uid = c.uid.clone().filter(|u| !u.is_empty());
        let k = key(c);
        let hit = uid.as_ref().and_then(|u| by_uid.get(u)).or_else(|| k.as_ref().and_then(|k| by_key.get(k)));
        if let Some(&i) = hit {
            findings.push(Finding::info(
                FindingKind::Duplicate,
                c.origin.clone(),
                format!("{:?} is a duplicate of the contact from {}; merged", c.label(), out[i].origin),
            ));
            absorb(&mut out[i], c);
            dups += 1;
            continue;
        }
        if let Some(u) = uid {
            by_uid.insert(u, out.len());
        }
        if let Some(k) = k {
            by_key.insert(k, out.len());
        }
        out.push(c.clone());
    }
    (out, dups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::Typed;

    #[test]
    fn same_name_and_email_merge_and_keep_phones() {
        let a = Contact {
            formatted_name: Some("A".into()),
            emails: vec![Typed::new("a@x.org")],
            ..Contact::default()
        };
        let mut b = a.clone();
        b.phones.push(Typed::new("123"));
        let c = Contact { formatted_name: Some("C".into()), ..Contact::default() };
        let mut f = Vec::new();
        let (m, d) = merge_duplicates(&[a, b, c], &mut f);
        assert_eq!((m.len(), d), (2, 1));
        assert_eq!(m[0].phones.len(), 1);
        assert_eq!(f.len(), 1);
    }
}
