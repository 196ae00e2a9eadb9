//! A consistent copy of a live SQLite database (`firstwatch backup`), and the check that the
//! database file is not on a network file system (SQLite's locking is not safe there: two
//! writers can corrupt the file).
//!
//! The copy is SQLite's `VACUUM INTO` on a read-only connection of its own: one read
//! transaction, so the copy is the database as of one moment while the monitor goes on
//! writing (WAL mode lets it). No migration is run and nothing is written to the source.
//! PostgreSQL is not copied here: `pg_dump` does that properly.

use std::path::{Path, PathBuf};

use sqlx::{AnyConnection, Connection, Row};

use super::dialect::Backend;

/// What a finished backup holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub cases: i64,
    /// The newest case's number, if any.
    pub newest_case: Option<i64>,
    pub servers: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} is PostgreSQL: back it up with pg_dump (e.g. `pg_dump --format=custom --file=firstwatch.dump URL`)")]
    Postgres(String),
    #[error("the database url names no database file (an in-memory database cannot be backed up)")]
    NoFile,
    #[error("no database file at {0}")]
    Missing(PathBuf),
    #[error("{0} exists already; a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("cannot copy the database: {0}")]
    Copy(#[source] sqlx::Error),
    #[error("the copy at {path} does not pass SQLite's integrity check: {detail}")]
    Damaged { path: PathBuf, detail: String },
}

/// Copy the SQLite database of `url` to `to` (which must not exist) and check the copy.
pub async fn backup(url: &str, to: &Path) -> Result<BackupReport, BackupError> {
    sqlx::any::install_default_drivers();
    if Backend::from_url(url).ok() == Some(Backend::Postgres) {
        return Err(BackupError::Postgres("the configured database".to_string()));
    }
    let from = Backend::sqlite_path(url).ok_or(BackupError::NoFile)?;
    if !from.is_file() {
        return Err(BackupError::Missing(from));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let mut source =
        AnyConnection::connect(&format!("sqlite://{}?mode=ro", from.display())).await.map_err(BackupError::Copy)?;
    sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut source).await.map_err(BackupError::Copy)?;
    let copied = sqlx::query("VACUUM INTO $1").bind(to.to_string_lossy().into_owned()).execute(&mut source).await;
    let _ = source.close().await;
    copied.map_err(BackupError::Copy)?;
    check(to).await
}

/// Open the copy read-only, run SQLite's integrity check and count what it holds.
async fn check(path: &Path) -> Result<BackupReport, BackupError> {
    let damaged = |detail: String| BackupError::Damaged { path: path.to_path_buf(), detail };
    let mut copy = AnyConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .map_err(|e| damaged(e.to_string()))?;
    let verdict: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut copy)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| damaged(e.to_string()))?;
    if verdict != "ok" {
        return Err(damaged(verdict));
    }
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM cases) AS cases, (SELECT MAX(id) FROM cases) AS newest, \
         (SELECT COUNT(*) FROM server_status) AS servers",
    )
    .fetch_one(&mut copy)
    .await
    .map_err(|e| damaged(format!("cannot read it: {e}")))?;
    let report = BackupReport {
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        cases: row.try_get("cases").map_err(|e| damaged(e.to_string()))?,
        newest_case: row.try_get("newest").map_err(|e| damaged(e.to_string()))?,
        servers: row.try_get("servers").map_err(|e| damaged(e.to_string()))?,
    };
    let _ = copy.close().await;
    Ok(report)
}

/// File system types on which SQLite's locks do not hold.
const NETWORK_FILE_SYSTEMS: &[&str] =
    &["nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "fuse.sshfs", "davfs"];

/// The network file system `path` is on, if any, from `/proc/self/mountinfo` (Linux; elsewhere
/// `None`).
pub fn network_file_system(path: &Path) -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).ok()?;
    network_type_in(&mountinfo, &dir)
}

/// The file system type of the mount holding `dir` (the longest mount point above it), when
/// it is a network one. Lines: `id parent major:minor root mount-point options … - type source …`.
fn network_type_in(mountinfo: &str, dir: &Path) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(mount), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-")) else { continue };
        let Some(fs_type) = fields.get(dash + 1) else { continue };
        // Spaces in mount points are written as \040.
        let mount = mount.replace("\\040", " ");
        if dir.starts_with(&mount) && best.is_none_or(|(len, _)| mount.len() >= len) {
            best = Some((mount.len(), fs_type));
        }
    }
    let (_, fs_type) = best?;
    NETWORK_FILE_SYSTEMS.contains(&fs_type).then(|| fs_type.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 0:40 / /srv/data rw,relatime - nfs4 filer:/export rw,vers=4.2
31 30 8:2 / /srv/data/local rw,relatime - xfs /dev/sdb1 rw
32 22 0:41 / /mnt/my\\040share rw - cifs //nas/share rw
";

    #[test]
    fn the_longest_mount_point_above_the_folder_decides() {
        let at = |p: &str| network_type_in(MOUNTINFO, Path::new(p));
        assert_eq!(at("/var/lib/firstwatch"), None, "ext4 root");
        assert_eq!(at("/srv/data/firstwatch").as_deref(), Some("nfs4"));
        assert_eq!(at("/srv/data/local/firstwatch"), None, "a local disk mounted inside the share");
        assert_eq!(at("/srv/database"), None, "a name that only starts like the mount point");
        assert_eq!(at("/mnt/my share/fw").as_deref(), Some("cifs"));
    }
}
