//! One integration-test binary: every capability in its own file, shared fixtures in `helpers/`.

#[macro_use]
mod helpers;

mod api;
mod cases;
mod cli;
mod notify;
mod operator_cli;
mod paging;
mod probe;
mod scheduler;
mod storage;
