//! One integration-test binary: every capability in its own file, shared fixtures in `helpers/`.

mod helpers;
mod probe;
mod scheduler;
mod storage;
