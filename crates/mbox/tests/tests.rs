//! Integration tests of mailshift-mbox (one binary): the shared corpus
//! (golden files), round trips, sources and sinks on disk, and throughput.

mod suite {
    mod corpus;
    mod roundtrip;
    mod store;
    mod throughput;
}
