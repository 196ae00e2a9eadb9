//! One instance per SQLite file: `run` holds an exclusive lock on `<database>.lock` (an OS
//! file lock, released by the kernel when the process ends, even on `kill -9`) with the
//! holder's pid and instance id written in it, so a second `run` refuses to start and names
//! the process that holds the file. SQLite on a network file system or shared between
//! replicas corrupts; this keeps the second writer out.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The held lock; dropping it releases the file.
#[derive(Debug)]
pub struct SqliteLock {
    _file: File,
    pub path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{database} is in use by another firstwatch ({holder}); SQLite is for one instance: stop it, or use PostgreSQL for several")]
    Held { database: String, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Take the lock beside `database`, writing `pid <pid>, instance <instance>` into it.
pub fn acquire(database: &Path, instance: &str) -> Result<SqliteLock, LockError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let io = |source| LockError::Io { path: path.display().to_string(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "a process that wrote no id".to_string() } else { holder.to_string() };
            return Err(LockError::Held { database: database.display().to_string(), holder });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "pid {}, instance {instance}", std::process::id()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(SqliteLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("firstwatch.db");
        let first = acquire(&db, "one").expect("first lock");
        let second = acquire(&db, "two").map(|_| ()).map_err(|e| e.to_string());
        let expected = format!("pid {}, instance one", std::process::id());
        assert!(second.as_ref().err().is_some_and(|e| e.contains(&expected)), "{second:?}");
        drop(first);
        assert!(acquire(&db, "three").is_ok(), "free again once the holder is gone");
    }
}
