//! Real parts the tests run on loopback: fake targets, a DNS responder, apps under test.

pub mod app;
pub mod browser;
pub mod db;
pub mod dns_server;
pub mod pg_cluster;
pub mod receiver;
pub mod smtp;
pub mod targets;

/// Run each named scenario (`async fn name(backend: Backend)`) against SQLite and against
/// PostgreSQL, as two tests `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$scenario(Backend::Postgres).await
            }
        }
    )*};
}
