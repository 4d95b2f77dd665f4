//! A distributed zone run by the test itself, one `kuafu node` process per
//! node, so the test can `kill -9` any one of them and start it again.
//!
//! [`zone_file`] writes the zone file in one place (add a key there and
//! every crash test has it). [`Nodes`] starts a node and waits for its
//! ready line (`kuafu::processes::READY_PREFIX`); its logs go to a file per
//! start under the zone's directory, and their ends are printed when the
//! test panics. Every node reads its standard input
//! and stops when it closes, so none outlives the test, however it ends.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kuafu::processes::{READY_PREFIX, STARTUP_LINES_MAX};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a node may take to print its ready line (it waits for NATS
/// and PostgreSQL when they are down).
pub const NODE_START_WAIT: Duration = Duration::from_secs(60);
/// The nodes' log filter unless `RUST_LOG` says otherwise: their
/// connections lost and regained, a few lines a node.
pub const NODE_LOG_FILTER: &str = "info";
/// Lines of each node log printed when the test panics.
pub const LOG_TAIL_LINES: usize = 40;

/// What a crash test's zone file says.
pub struct ZoneSpec<'a> {
    /// The directory of the zone file, the data directory and the logs.
    pub dir: &'a Path,
    /// The private NATS server's URL.
    pub nats: String,
    /// The account center's fixed port (a restarted one listens there again).
    pub account_port: u16,
    /// Each game server's name, fixed port and player database.
    pub games: Vec<GameSpec>,
    /// The `[timing]` section's keys and values.
    pub timing: Vec<(&'static str, u64)>,
}

/// One game server of a [`ZoneSpec`].
pub struct GameSpec {
    /// Its name, `gs<srvno>`.
    pub name: String,
    /// Its srvno.
    pub srvno: u32,
    /// Its client port.
    pub port: u16,
    /// Its player database's connection string.
    pub database: String,
}

/// Writes the zone file of `spec` and returns its path.
pub fn zone_file(spec: &ZoneSpec<'_>) -> PathBuf {
    let mut text = format!(
        "zone = \"{zone}\"\ndata_dir = \"{data}\"\nrecommended_server = \"gs1\"\n\n\
         [account]\ntcp = \"127.0.0.1:{account}\"\n",
        zone = test_support::unique_name("crash"),
        data = spec.dir.join("data").display(),
        account = spec.account_port,
    );
    for game in &spec.games {
        text += &format!(
            "\n[[game]]\nname = \"{}\"\nsrvno = {}\ntcp = \"127.0.0.1:{}\"\ndb = \"srv{}.db\"\n",
            game.name, game.srvno, game.port, game.srvno
        );
    }
    text += "\n[timing]\n";
    for (key, value) in &spec.timing {
        text += &format!("{key} = {value}\n");
    }
    // Every bot logs in from this machine's address.
    text += "\n[login]\nregistrations_per_address_max = 100000\n";
    text += &format!("\n[distributed]\nnats = \"{}\"\n", spec.nats);
    text += "\n[distributed.player_databases]\n";
    for game in &spec.games {
        text += &format!("{} = \"{}\"\n", game.name, game.database);
    }
    let path = spec.dir.join("zone.toml");
    std::fs::write(&path, text).expect("the zone file is written");
    path
}

/// The running nodes of one zone file, by name.
pub struct Nodes {
    zone_file: PathBuf,
    logs: PathBuf,
    running: BTreeMap<String, Child>,
    starts: usize,
}

impl Nodes {
    /// No node running yet; logs go under `logs`.
    pub fn new(zone_file: PathBuf, logs: PathBuf) -> Self {
        std::fs::create_dir_all(&logs).expect("the log directory");
        Self {
            zone_file,
            logs,
            running: BTreeMap::new(),
            starts: 0,
        }
    }

    /// Starts node `name` and waits for its ready line.
    pub async fn start(&mut self, name: &str) {
        self.starts += 1;
        let log = self.logs.join(format!("{:02}-{name}.log", self.starts));
        let mut child = Command::new(env!("CARGO_BIN_EXE_kuafu"))
            .arg("node")
            .arg("--config")
            .arg(&self.zone_file)
            .args(["--name", name, "--stop-when-stdin-closes"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("the node's log file"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or(NODE_LOG_FILTER.into()),
            )
            .kill_on_drop(true)
            .spawn()
            .expect("kuafu node starts");
        let ready = tokio::time::timeout(NODE_START_WAIT, ready_line(&mut child)).await;
        match ready {
            Ok(Some(_)) => {}
            Ok(None) => panic!(
                "node {name} exited before it was ready; see {}",
                log.display()
            ),
            Err(_) => panic!(
                "node {name} not ready in {NODE_START_WAIT:?}; see {}",
                log.display()
            ),
        }
        self.running.insert(name.to_owned(), child);
    }

    /// The nodes that exited although nobody killed them, with how.
    pub fn exited(&mut self) -> Vec<String> {
        let exited = self.running.iter_mut().filter_map(|(name, child)| {
            let status = child.try_wait().expect("the node's status")?;
            Some(format!("{name} ({status})"))
        });
        exited.collect()
    }

    /// Sends `signal` (`STOP` pauses, `CONT` resumes) to node `name`.
    pub fn signal(&self, name: &str, signal: &str) {
        let pid = self.running[name].id().expect("the node runs");
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {name}: {status}");
    }

    /// `kill -9` of node `name`: no final save, no release.
    pub async fn kill(&mut self, name: &str) {
        let mut child = self.running.remove(name).expect("the node runs");
        child.kill().await.expect("the node is killed");
    }
}

impl Drop for Nodes {
    /// When the test panics, prints the end of every node log (the logs
    /// go with the test's temporary directory).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(logs) = std::fs::read_dir(&self.logs) else {
            return;
        };
        let mut logs: Vec<PathBuf> = logs.filter_map(|log| Some(log.ok()?.path())).collect();
        logs.sort();
        let mut stderr = std::io::stderr().lock();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            let _ = writeln!(stderr, "--- {} (last {} lines)", log.display(), tail.len());
            for line in tail {
                let _ = writeln!(stderr, "{line}");
            }
        }
    }
}

/// Reads the node's output up to its ready line (returned); keeps draining
/// the rest, so the node never blocks on a full pipe. `None` when the node
/// ended first.
async fn ready_line(child: &mut Child) -> Option<String> {
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    for _ in 0..STARTUP_LINES_MAX {
        let line = lines.next_line().await.ok()??;
        if line.starts_with(READY_PREFIX) {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(line);
        }
    }
    None
}
