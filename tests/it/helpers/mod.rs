//! Real parts the tests run on loopback: fake targets, a DNS responder, apps under test.

pub mod app;
pub mod db;
pub mod dns_server;
pub mod receiver;
pub mod smtp;
pub mod targets;
