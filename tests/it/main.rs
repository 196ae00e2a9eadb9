//! One integration-test binary: every capability in its own file, shared fixtures in `helpers/`.

mod cases;
mod cli;
mod helpers;
mod probe;
mod scheduler;
mod storage;
