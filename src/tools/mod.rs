//! What is not the product itself: `firstwatch demo` (a scripted outage on loopback),
//! `firstwatch bench` (measurements), and the simulated fleet both use (`sim.rs`).

pub mod bench;
pub mod demo;
pub mod sim;
