//! Databases for tests: a fresh SQLite file in a temporary folder, or a fresh database on the
//! PostgreSQL server named by `FIRSTWATCH_TEST_POSTGRES_URL` (`scripts/test` starts one).

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{Connection, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary folder");
                // A nested folder proves the store creates missing folders on first start.
                let url = format!("sqlite://{}/data/firstwatch.db", dir.path().display());
                TestDb { url, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let base = std::env::var("FIRSTWATCH_TEST_POSTGRES_URL").expect(
                    "FIRSTWATCH_TEST_POSTGRES_URL is not set: run the tests through scripts/test, \
                     which starts a throw-away PostgreSQL server",
                );
                let name = format!(
                    "fw_test_{}_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos())
                        .unwrap_or(0)
                );
                let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect to the test PostgreSQL server");
                conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
                conn.close().await.ok();
                let mut url = reqwest::Url::parse(&base).expect("FIRSTWATCH_TEST_POSTGRES_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDb { url: url.to_string(), _dir: None }
            }
        }
    }
}
