//! Per-process scratch space: `<data-dir>/tmp/proc-<host>-<pid>/`, for packaging jobs and
//! thumbnails in flight. A process killed with SIGKILL cannot remove its own, so each
//! process, as it starts, removes those of processes on this host that are gone.
//! (Resumable uploads are staged in the media store, where every API process reaches
//! them; `tmp/tus/`, where earlier versions staged them on one machine, is removed.)

use std::path::{Path, PathBuf};

use crate::liveness;

const PREFIX: &str = "proc-";
/// Where resumable uploads were staged before they moved into the media store; nothing
/// reads it any more (migration 0012 restarted the uploads it held).
const LEGACY_TUS_STAGING: &str = "tus";

/// Creates this process's scratch directory under `tmp` after removing dead ones.
pub fn prepare(tmp: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(tmp)?;
    match std::fs::remove_dir_all(tmp.join(LEGACY_TUS_STAGING)) {
        Ok(()) => tracing::info!("removed the old local staging of resumable uploads"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "could not remove the old tus staging directory"),
    }
    let host = liveness::host();
    let mine = format!("{PREFIX}{host}-{}", std::process::id());
    for entry in std::fs::read_dir(tmp)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if name != mine && liveness::is_dead_here(rest) {
            tracing::info!(dir = %name, "removing the scratch space of a process that is gone");
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(error = %e, dir = %name, "could not remove stale scratch space");
            }
        }
    }
    let dir = tmp.join(mine);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
