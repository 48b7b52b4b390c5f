//! mailshift-maildir (being written).
