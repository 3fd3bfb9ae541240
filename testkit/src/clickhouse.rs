//! A private ClickHouse server per test: its own process, temp directory and loopback ports, so a
//! test can SIGKILL and restart it (crash faults) without disturbing the project's shared server.
//!
//! The config comes from the project's `infra/clickhouse/config.xml` and `users.xml` templates
//! (the same ones `scripts/clickhouse.sh` uses), with `@DIR@`, `@HTTP_PORT@` and `@TCP_PORT@`
//! filled in; every other listening port a config may name (interserver, TLS, MySQL, ...) is
//! removed, so two instances never clash. The server runs as the current user on files this
//! process created, so it also starts as root (ClickHouse only refuses files owned by others).

use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long [`PrivateClickHouse::start`] and [`PrivateClickHouse::restart`] wait for `/ping`.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Listening-port elements removed from the config template (only HTTP and native stay).
const OTHER_PORTS: &[&str] = &[
    "https_port",
    "tcp_port_secure",
    "interserver_http_port",
    "interserver_https_port",
    "mysql_port",
    "postgresql_port",
    "grpc_port",
    "tcp_with_proxy_port",
];

/// A running (or killed) private ClickHouse server. Dropping it kills the process and removes its
/// directory.
pub struct PrivateClickHouse {
    bin: PathBuf,
    dir: tempfile::TempDir,
    http_port: u16,
    tcp_port: u16,
    /// The inside of a `<yandex>` element merged over the config (`config.d/extra.xml`).
    extra: String,
    child: Option<Child>,
}

impl PrivateClickHouse {
    /// Starts a server in a fresh temp directory on free loopback ports and waits until `/ping`
    /// answers (at most [`START_TIMEOUT`]; the error carries the server's log tail).
    pub async fn start() -> io::Result<PrivateClickHouse> {
        PrivateClickHouse::start_with("").await
    }

    /// As [`PrivateClickHouse::start`], with `extra` (elements of the server config, e.g. an
    /// `https_port` and its `openSSL` section) merged over the config from `config.d/`.
    pub async fn start_with(extra: &str) -> io::Result<PrivateClickHouse> {
        let bin = server_bin().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "clickhouse-server not found (install it with `scripts/clickhouse.sh install`)",
            )
        })?;
        let dir = tempfile::Builder::new().prefix("sendops-ch-").tempdir()?;
        for sub in ["data", "tmp", "user_files", "log", "format_schemas"] {
            fs::create_dir_all(dir.path().join(sub))?;
        }
        let (http_port, tcp_port) = free_ports()?;
        let mut ch = PrivateClickHouse {
            bin,
            dir,
            http_port,
            tcp_port,
            extra: extra.to_owned(),
            child: None,
        };
        // A port picked as free can be taken by someone else before the server binds it: retry
        // on new ports when that happens.
        let mut attempts = 0;
        loop {
            ch.write_config()?;
            match ch.spawn_and_wait().await {
                Ok(()) => return Ok(ch),
                Err(e) if attempts < 2 && e.to_string().contains("Address already in use") => {
                    attempts += 1;
                    (ch.http_port, ch.tcp_port) = free_ports()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `http://127.0.0.1:PORT` of the HTTP interface.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The native-protocol port.
    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// The server's directory (config, `data/`, `log/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs the server and waits for it to exit (a no-op when it is not running).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same directory and ports (killing it first if it still
    /// runs) and waits until `/ping` answers.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.spawn_and_wait().await
    }

    fn write_config(&self) -> io::Result<()> {
        let root = repo_root();
        let templates = root.join("infra/clickhouse");
        let config = fs::read_to_string(templates.join("config.xml"))?;
        let dir =
            self.dir.path().to_str().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "temp dir is not UTF-8")
            })?;
        let mut config = config
            .replace("@DIR@", dir)
            .replace("@HTTP_PORT@", &self.http_port.to_string())
            .replace("@TCP_PORT@", &self.tcp_port.to_string());
        for tag in OTHER_PORTS {
            config = remove_element(&config, tag);
        }
        fs::write(self.dir.path().join("config.xml"), config)?;
        if !self.extra.is_empty() {
            let conf_d = self.dir.path().join("config.d");
            fs::create_dir_all(&conf_d)?;
            fs::write(
                conf_d.join("extra.xml"),
                format!(
                    "<?xml version=\"1.0\"?>\n<yandex>\n{}\n</yandex>\n",
                    self.extra
                ),
            )?;
        }
        fs::copy(
            templates.join("users.xml"),
            self.dir.path().join("users.xml"),
        )?;
        Ok(())
    }

    async fn spawn_and_wait(&mut self) -> io::Result<()> {
        let log_dir = self.dir.path().join("log");
        let stdout = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir.join("stdout.log"))?;
        let mut cmd = Command::new(&self.bin);
        if self.bin.file_name().is_some_and(|n| n == "clickhouse") {
            cmd.arg("server");
        }
        cmd.arg(format!(
            "--config-file={}",
            self.dir.path().join("config.xml").display()
        ))
        .current_dir(self.dir.path())
        .stdin(Stdio::null())
        .stdout(stdout.try_clone()?)
        .stderr(stdout);
        self.child = Some(cmd.spawn()?);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ping(self.http_port).await {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "clickhouse-server exited ({status}) before answering; log tail:\n{}",
                    self.log_tail()
                )));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "clickhouse-server did not answer /ping within {} s; log tail:\n{}",
                        START_TIMEOUT.as_secs(),
                        self.log_tail()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of the server's stdout/stderr and error log.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for name in ["stdout.log", "server.err.log"] {
            let path = self.dir.path().join("log").join(name);
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("==> {} <==\n", path.display()));
            for line in &lines[lines.len().saturating_sub(30)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.kill();
        // TempDir removes the directory.
    }
}

/// The server binary, looked up like `scripts/clickhouse.sh`'s `server_bin`.
pub fn server_bin() -> Option<PathBuf> {
    for b in [
        "/usr/sbin/clickhouse-server",
        "/usr/bin/clickhouse-server",
        "/usr/bin/clickhouse",
    ] {
        if is_executable(Path::new(b)) {
            return Some(PathBuf::from(b));
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("clickhouse-server"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Two distinct free loopback ports (both held while the second is picked).
/// A loopback port that was free a moment ago (for an extra listener of [`PrivateClickHouse::start_with`]).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_ports() -> io::Result<(u16, u16)> {
    let a = TcpListener::bind("127.0.0.1:0")?;
    let b = TcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

/// `text` without any `<tag>...</tag>` element.
fn remove_element(text: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = text.to_string();
    while let Some(start) = out.find(&open) {
        let Some(end) = out[start..].find(&close) else {
            break;
        };
        out.replace_range(start..start + end + close.len(), "");
    }
    out
}

/// Whether `GET /ping` on the port answers `Ok.`.
async fn ping(port: u16) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .ok()?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).await.ok()?;
        let reply = String::from_utf8_lossy(&reply);
        Some(reply.starts_with("HTTP/1.") && reply.contains(" 200 ") && reply.ends_with("Ok.\n"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The repository's root: where this crate was compiled, or, when that checkout is gone (a
/// target directory shared by clones at other paths keeps a build of this library), the
/// checkout of the test running now (cargo and nextest set `CARGO_MANIFEST_DIR` at run time).
fn repo_root() -> std::path::PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if built.join("infra/clickhouse/config.xml").exists() {
        return built;
    }
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(|d| Path::new(&d).join(".."))
        .filter(|r| r.join("infra/clickhouse/config.xml").exists())
        .unwrap_or(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_other_port_elements() {
        let c = "<a>\n<http_port>1</http_port>\n<interserver_http_port>9009</interserver_http_port>\n<mysql_port>9004</mysql_port></a>";
        let c = OTHER_PORTS
            .iter()
            .fold(c.to_string(), |c, t| remove_element(&c, t));
        assert_eq!(c, "<a>\n<http_port>1</http_port>\n\n</a>");
    }
}
