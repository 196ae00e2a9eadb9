//! A PostgreSQL server of a test's own, which the test may stop and start again (the shared
//! server of `FIRSTWATCH_TEST_POSTGRES_URL` must stay up for the other tests). Built with the
//! same binaries `scripts/test` uses (`initdb`/`pg_ctl` on the PATH, else the newest
//! `/usr/lib/postgresql/*/bin`); as root it runs as the unprivileged `firstwatch-test` user
//! that `scripts/test` creates, since PostgreSQL refuses to run as root.

use std::path::PathBuf;
use std::process::Command;

pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_user: Option<&'static str>,
}

fn pg_bin() -> PathBuf {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
    };
    if let (Some(initdb), Some(_)) = (on_path("initdb"), on_path("pg_ctl")) {
        return initdb.parent().map(PathBuf::from).unwrap_or_default();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL binaries (initdb, pg_ctl): run the tests through scripts/test")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgCluster {
    pub fn start() -> PgCluster {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("temporary folder");
        let as_user = is_root().then_some("firstwatch-test");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            listener.local_addr().expect("port").port()
        };
        let cluster = PgCluster { bin, dir, port, as_user };
        if as_user.is_some() {
            let ok = Command::new("chown").arg("firstwatch-test").arg(cluster.dir.path()).status();
            assert!(ok.is_ok_and(|s| s.success()), "chown the cluster folder to firstwatch-test");
        }
        let data = cluster.data();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        cluster.start_again();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let tool = self.bin.join(tool);
        let mut command = match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&tool);
                c
            }
            None => Command::new(&tool),
        };
        let output = command.args(args).output().unwrap_or_else(|e| panic!("run {}: {e}", tool.display()));
        assert!(output.status.success(), "{} {args:?}: {}", tool.display(), String::from_utf8_lossy(&output.stderr));
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stop at once (`-m fast`: connections are cut, as when the server goes away).
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    pub fn start_again(&self) {
        let log = self.dir.path().join("server.log").display().to_string();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-o", &opts, "start"]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let tool = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = match self.as_user {
            Some(user) => Command::new("runuser").args(["-u", user, "--"]).arg(&tool).args(args).output(),
            None => Command::new(&tool).args(args).output(),
        };
    }
}
