//! A private nats-server a test starts on its own port (and may stop and
//! restart), optionally with a configuration file (an authorization block)
//! and a log file; stopped by its process id when the test is done, also
//! when it panics (on drop). See SERVICES.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The nats-server binary a private instance runs (Debian's package).
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// How long a started nats-server may take to take connections.
pub const NATS_START_WAIT: Duration = Duration::from_secs(30);

/// A nats-server this test started on its own port.
pub struct PrivateNats {
    port: u16,
    config: Option<PathBuf>,
    log: Option<PathBuf>,
    server: Option<Child>,
}

impl PrivateNats {
    /// A handle for a server on `port`, not started yet; `None` (after saying
    /// why, see [`crate::service_missing`]) when nats-server is not
    /// installed.
    pub fn on_port(port: u16) -> Option<Self> {
        if !Path::new(NATS_SERVER).exists() {
            return crate::service_missing(&format!("{NATS_SERVER} is not installed"));
        }
        Some(Self {
            port,
            config: None,
            log: None,
            server: None,
        })
    }

    /// Starts the server with configuration file `config` (`-c`).
    pub fn with_config(mut self, config: &Path) -> Self {
        self.config = Some(config.to_owned());
        self
    }

    /// Has the server write its log to `log` (`-l`).
    pub fn with_log(mut self, log: &Path) -> Self {
        self.log = Some(log.to_owned());
        self
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it takes connections.
    pub async fn start(&mut self) {
        assert!(self.server.is_none(), "the private server already runs");
        let mut command = Command::new(NATS_SERVER);
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        if let Some(log) = &self.log {
            command.arg("-l").arg(log);
        }
        let server = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.server = Some(server);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let what = "the private nats-server taking connections";
        crate::eventually_within(what, NATS_START_WAIT, || async move {
            tokio::net::TcpStream::connect(address).await.ok().map(drop)
        })
        .await;
    }

    /// Stops the server (SIGKILL, by its process id) and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}
