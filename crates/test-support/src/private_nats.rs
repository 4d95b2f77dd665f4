//! A nats-server a test starts on its own port, so it may stop and restart
//! it (never the shared server on 4222, SERVICES.md): stopped by its
//! process id, and on drop, even when the test panics.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The nats-server binary a private instance runs (Debian's package).
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// How long a started nats-server may take to take connections.
pub const NATS_START_WAIT: Duration = Duration::from_secs(30);

/// A nats-server this test started on its own port.
pub struct PrivateNats {
    port: u16,
    server: Option<Child>,
}

impl PrivateNats {
    /// A handle for a server on `port`, not started yet; `None` (after
    /// saying why) when nats-server is not installed outside CI.
    pub fn on_port(port: u16) -> Option<Self> {
        if !Path::new(NATS_SERVER).exists() {
            return crate::service_missing(&format!("{NATS_SERVER} is not installed"));
        }
        Some(Self { port, server: None })
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it takes connections.
    pub async fn start(&mut self) {
        assert!(self.server.is_none(), "the private server already runs");
        let server = Command::new(NATS_SERVER)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
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
