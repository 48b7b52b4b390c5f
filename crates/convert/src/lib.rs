//! mailshift-convert (being written).
