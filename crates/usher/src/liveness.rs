//! Telling whether a process named `<host>-<pid>` (how workers and scratch directories
//! are named) is gone. Only a process on this host can be judged, and only "gone" is
//! trusted: a pid in use, even by an unrelated process, counts as alive, so nothing is
//! ever taken from a process that might still be running.

/// This machine's host name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into())
}

/// `<host>-<pid>`, the name of this process.
pub fn this_process() -> String {
    format!("{}-{}", host(), std::process::id())
}

/// Whether `name` (`<host>-<pid>`, optionally followed by `-<anything>`) names a
/// process on this host that no longer exists.
pub fn is_dead_here(name: &str) -> bool {
    let host = host();
    let Some(rest) = name
        .strip_prefix(host.as_str())
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    let pid = rest.split('-').next().unwrap_or("");
    match pid.parse::<u32>() {
        Ok(pid) if pid != std::process::id() => {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_only_this_host() {
        let me = this_process();
        assert!(!is_dead_here(&me), "this process is alive");
        assert!(!is_dead_here(&format!("{me}-0")));
        // pid_max is at most 2^22 on Linux, so this pid cannot exist.
        assert!(is_dead_here(&format!("{}-99999999-1", host())));
        assert!(!is_dead_here("another-host-99999999-1"));
        assert!(!is_dead_here(&format!("{}-notapid", host())));
    }
}
