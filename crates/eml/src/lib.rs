//! mailshift-eml (being written).
