//! One integration-test binary: every capability in its own file, shared fixtures in `helpers/`.

#[macro_use]
mod helpers;

mod access;
mod ack;
mod api;
mod api_fuzz;
mod browser;
mod cases;
mod cli;
mod clients;
mod cluster;
mod cluster_faults;
mod deploy;
mod docs;
mod escalation;
mod faults;
mod inventory;
mod inventory_api;
mod metrics;
mod notify;
mod oncall;
mod openapi;
mod operator_cli;
mod pages;
mod paging;
mod paging_path;
mod probe;
mod reload;
mod scheduler;
mod sessions;
mod storage;
