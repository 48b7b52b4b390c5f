//! The address book and calendar of a store: every contact, distribution
//! list, appointment, task, note and journal entry of every folder, as the
//! models of `mailshift-contacts` ([`Contact`], [`Event`]).

use std::collections::{HashMap, HashSet};

use mailshift_contacts::{Contact, Event};
use mailshift_model::{Finding, FindingKind, Location, Result, Source};

use crate::appointment;
use crate::contact::{self, NamedIds};
use crate::source::{PstItem, PstSource};

/// `uid`, or when a copy of the same item already took it, a variant with
/// this item's node id in it (still a UUID when `uid` is one), so that every
/// card and calendar object of a store has its own UID (CardDAV and CalDAV
/// servers refuse two with the same one).
fn unique(uid: String, node: u32, taken: &mut HashSet<String>) -> String {
    if taken.insert(uid.clone()) {
        return uid;
    }
    let mut n = 0u32;
    loop {
        let candidate = match uid.get(8..).filter(|rest| rest.starts_with('-')) {
            Some(rest) => format!("{:08x}{rest}", node.wrapping_add(n)),
            None => format!("{uid}-{node:x}-{n}"),
        };
        if taken.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

impl PstSource {
    fn location(&self) -> Location {
        Location::path(self.info().path)
    }

    /// Items of the classes starting with `prefix`, and a finding when
    /// fewer could be read than the folders list.
    fn collect(
        &self,
        prefix: &str,
        expected: u64,
        what: &str,
        findings: &mut Vec<Finding>,
    ) -> Result<Vec<PstItem>> {
        let mut items = Vec::new();
        self.items_of_class(prefix, &mut |i| items.push(i))?;
        let got = items.len() as u64;
        if got < expected {
            findings.push(Finding::error(
                FindingKind::Unreadable,
                self.location(),
                format!("{} of {expected} {what} could not be read", expected - got),
            ));
        }
        Ok(items)
    }

    /// Every contact (`IPM.Contact`) and distribution list (`IPM.DistList`,
    /// as a group whose members point at the contacts by UID or carry their
    /// SMTP address). Every contact gets a UID (its search key, else a hash
    /// of its content), so list members can refer to it.
    pub fn contacts(&self, findings: &mut Vec<Finding>) -> Result<Vec<Contact>> {
        let names = NamedIds::new(&self.named_properties()?);
        let inv = self.inventory()?;
        let pst = self.location();
        let mut out = Vec::new();
        let mut uids = HashMap::new();
        let mut taken = HashSet::new();
        for item in self.collect("IPM.Contact", inv.contacts, "contacts", findings)? {
            let mut c = contact::to_contact(&item, &names, &pst, findings);
            let uid = unique(mailshift_contacts::stable_uid(&c), item.node, &mut taken);
            c.uid = Some(uid.clone());
            uids.insert(item.node, uid);
            out.push(c);
        }
        let lists = self.collect("IPM.DistList", inv.distribution_lists, "distribution lists", findings)?;
        // Lists first get their UIDs, so a list inside a list resolves too.
        let mut groups: Vec<(PstItem, Option<String>)> = Vec::new();
        for item in lists {
            let uid = contact::uid_of(&item).map(|u| unique(u, item.node, &mut taken));
            if let Some(u) = &uid {
                uids.insert(item.node, u.clone());
            }
            groups.push((item, uid));
        }
        for (item, uid) in groups {
            let mut c = contact::to_group(&item, &names, &uids, &pst, findings);
            c.uid = Some(
                uid.unwrap_or_else(|| unique(mailshift_contacts::stable_uid(&c), item.node, &mut taken)),
            );
            out.push(c);
        }
        Ok(out)
    }

    /// Every appointment (a VEVENT, plus one per modified instance of a
    /// series), task (VTODO), note and journal entry (VJOURNAL).
    pub fn calendar(&self, findings: &mut Vec<Finding>) -> Result<Vec<Event>> {
        let names = NamedIds::new(&self.named_properties()?);
        let inv = self.inventory()?;
        let pst = self.location();
        let mut out = Vec::new();
        let mut taken = HashSet::new();
        for item in self.collect("IPM.Appointment", inv.appointments, "appointments", findings)? {
            let mut events = appointment::to_events(&item, &names, &pst, findings);
            // A copied item keeps its global object id: the copy gets its own UID.
            if let Some(first) = events.first() {
                let uid = unique(first.uid.clone(), item.node, &mut taken);
                for e in &mut events {
                    e.uid.clone_from(&uid);
                }
            }
            out.extend(events);
        }
        for prefix in ["IPM.Task", "IPM.TaskRequest"] {
            let mut items = Vec::new();
            self.items_of_class(prefix, &mut |i| items.push(i))?;
            for item in items {
                // `IPM.Task` is a prefix of `IPM.TaskRequest`: count each once.
                let is_request = item.class.to_ascii_lowercase().starts_with("ipm.taskrequest");
                if is_request == (prefix == "IPM.TaskRequest") {
                    out.push(appointment::to_todo(&item, &names, &pst, findings));
                }
            }
        }
        for (prefix, n, what) in
            [("IPM.StickyNote", inv.notes, "notes"), ("IPM.Activity", inv.journal, "journal entries")]
        {
            for item in self.collect(prefix, n, what, findings)? {
                out.push(appointment::to_journal(&item, &names, &pst));
            }
        }
        Ok(out)
    }
}
