//! Real parts the tests run on loopback: fake targets, a DNS responder, apps under test.

pub mod dns_server;
pub mod targets;
