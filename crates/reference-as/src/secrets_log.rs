//! A test aid, off unless asked for: when the environment variable
//! `REFERENCE_AS_SECRETS_LOG` names a file, every secret this AS hands out
//! or receives (authorization codes, PKCE verifiers, access and refresh
//! tokens, client secrets) is appended to it, one per line as
//! `<kind><TAB><value>`.
//!
//! Why: SECURITY-CASES 36 asks that no code, verifier, token or client key
//! ever appears in a log or in captured output. A scan can only look for a
//! secret it knows, so a test run sets this variable and
//! `scripts/leak-scan.sh` then searches every log and captured output of
//! the run for each recorded value.
//!
//! The file holds live credentials: never set the variable for an AS that
//! serves real users. Unset, nothing is written and nothing is kept.

use std::io::Write as _;
use std::path::Path;

/// The environment variable that names the file.
pub const ENV: &str = "REFERENCE_AS_SECRETS_LOG";

/// Appends `value` as a secret of `kind` to the file named by [`ENV`], if
/// it is set. Failures are ignored: a test aid never stops the AS.
pub fn record(kind: &str, value: &str) {
    if let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) {
        let _ = append(Path::new(&path), kind, value);
    }
}

/// Appends one `kind<TAB>value` line to `path` (created readable by the
/// owner only), in one write, so that processes sharing the file never
/// interleave their lines.
pub fn append(path: &Path, kind: &str, value: &str) -> std::io::Result<()> {
    if value.is_empty() || value.contains(['\n', '\t']) {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)?
        .write_all(format!("{kind}\t{value}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_are_appended_one_per_secret_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/secrets.log");
        append(&path, "code", "c0de").unwrap();
        append(&path, "refresh_token", "rt-1").unwrap();
        append(&path, "code", "").unwrap();
        append(&path, "code", "two\nlines").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "code\tc0de\nrefresh_token\trt-1\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
