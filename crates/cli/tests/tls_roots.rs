//! Real TLS with the system's roots read at the first handshake
//! (`passport_core::tls_roots`): a server whose certificate a trusted root
//! signed is reached, and the same server is refused when that root is not
//! trusted. The root is a test CA made with the `openssl` command and named
//! by `SSL_CERT_FILE` (which the platform verifier honours on Linux); the
//! server is `openssl s_server` on loopback. `login` reaching the server
//! shows as its metadata being refused (the server is not an AS); a refused
//! certificate as the server not being reached.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command (scripts/setup.sh installs it)");
    assert!(status.success(), "openssl {args:?}");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn login(dir: &Path, port: u16, roots: &str) -> String {
    let home = dir.join(format!("home-{roots}"));
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-passport"))
        .args(["login", &format!("https://localhost:{port}")])
        .env("SSL_CERT_FILE", dir.join(roots))
        .env("SSL_CERT_DIR", dir.join("no-such-folder"))
        .env("MCP_PASSPORT_HOME", &home)
        .env("MCP_PASSPORT_NO_AUTOSTART", "1")
        .env("BROWSER", "true")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_server_signed_by_a_trusted_root_is_reached_and_refused_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Passport test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(d, &ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(d, &leaf);
    std::fs::write(
        d.join("ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
    );
    std::fs::write(d.join("empty.pem"), "").unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let _server = Server(
        Command::new("openssl")
            .args([
                "s_server", "-quiet", "-www", "-cert", "leaf.pem", "-key", "leaf.key",
            ])
            .args(["-accept", &port.to_string()])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }

    let trusted = login(d, port, "ca.pem");
    assert!(
        trusted.contains("did not return a valid metadata document"),
        "reached over TLS: {trusted}"
    );
    let untrusted = login(d, port, "empty.pem");
    assert!(
        untrusted.contains("could not reach") && !untrusted.contains("metadata document"),
        "refused without the root: {untrusted}"
    );
}
