//! mailshift-mbox (being written).
