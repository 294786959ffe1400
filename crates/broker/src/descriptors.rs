//! The broker's file descriptors: whether a client has sent anything yet,
//! and how many connections the broker may hold: each client connection may
//! need a second descriptor upstream (the proxy), and the broker needs some
//! of its own (the keyring's D-Bus connection, the state file, its log), so
//! the cap stays under the process's open-files limit instead of finding it
//! by failing. On Unix the soft limit is first raised to the hard one, as
//! servers do (macOS starts processes with 256).

/// The broker's own descriptors, beside its connections.
const RESERVE: u64 = 64;

/// Raises the open-files limit as far as allowed, then returns how many
/// connections fit under it, at most `most`.
pub fn connection_cap(most: usize) -> usize {
    cap_for(open_files_limit(), most)
}

/// The connections that fit under `limit` open files (`None`: unlimited).
fn cap_for(limit: Option<u64>, most: usize) -> usize {
    match limit {
        Some(limit) => {
            let fit = limit.saturating_sub(RESERVE) / 2;
            usize::try_from(fit).unwrap_or(usize::MAX).clamp(16, most)
        }
        None => most,
    }
}

#[cfg(unix)]
fn open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "could not raise the open-files limit");
        }
    }
    // `None` is unlimited.
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_files_limit() -> Option<u64> {
    None
}

/// Whether bytes from the client wait on `tcp` (looked at without reading
/// them). Where that cannot be asked, assumes they do.
#[cfg(unix)]
pub fn has_bytes(tcp: &tokio::net::TcpStream) -> bool {
    use rustix::net::{RecvFlags, recv};
    let mut byte = [0u8; 1];
    matches!(recv(tcp, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT), Ok((n, _)) if n > 0)
}

/// Whether bytes from the client wait on `tcp`; assumed where it cannot be asked.
#[cfg(not(unix))]
pub fn has_bytes(_tcp: &tokio::net::TcpStream) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::cap_for;

    #[test]
    fn the_cap_leaves_room_upstream_and_for_the_broker_itself() {
        assert_eq!(cap_for(Some(256), 512), 96, "macOS's default");
        assert_eq!(cap_for(Some(1024), 512), 480, "Linux's usual soft limit");
        assert_eq!(cap_for(Some(1 << 20), 512), 512);
        assert_eq!(cap_for(None, 512), 512, "unlimited");
        assert_eq!(cap_for(Some(40), 512), 16, "a floor, whatever the limit");
    }
}
