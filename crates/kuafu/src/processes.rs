//! The distributed mode on one machine (DESIGN §3): `kuafu node` runs one
//! node of a zone file in this process ([`run_node`]); `kuafu zone
//! --processes` starts every node of the zone as its own process of this
//! binary ([`ProcessZone`]), prints where each listens, and stops them all
//! on Ctrl-C ([`run_zone`]).
//!
//! A node started by `run_zone` reads its standard input and stops when it
//! closes: the supervisor closes it to stop the node, and the operating
//! system closes it when the supervisor dies however it dies, so no node
//! outlives its supervisor. Each node prints one line on its standard output
//! once NATS has its bindings ([`READY_PREFIX`]); its logs go to standard
//! error.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};
use zone::{ZoneConfig, ZoneNode};

/// The start of the line a node prints once it serves.
pub const READY_PREFIX: &str = "ready:";
/// How long a node may take to stop gracefully before it is killed.
pub const NODE_STOP_WAIT: Duration = Duration::from_secs(15);
/// Lines a node may print before its ready line.
pub const STARTUP_LINES_MAX: usize = 100;

type Failure = Box<dyn Error>;

/// `kuafu node`: runs node `name` of the zone file until Ctrl-C or SIGTERM
/// (or, with `stop_when_stdin_closes`, until standard input closes), then
/// stops it gracefully; an error at once if a game server lost its node
/// lock (`ZoneNode::lost`).
pub async fn run_node(
    config: &Path,
    name: &str,
    stop_when_stdin_closes: bool,
) -> Result<(), Failure> {
    let mut node = ZoneNode::start(ZoneConfig::load(config)?, name).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{READY_PREFIX} tcp {} ws {} admin {}",
        address_text(node.tcp_addr),
        address_text(node.ws_addr),
        address_text(node.admin_addr)
    )?;
    stdout.flush()?;
    drop(stdout);
    tokio::select! {
        stopped = wait_for_stop(stop_when_stdin_closes) => stopped?,
        // Another incarnation may have its players: stop serving at once.
        reason = node.lost() => return Err(format!("node {name}: {reason}").into()),
    }
    tracing::info!(node = node.name(), "stopping");
    node.shutdown().await;
    Ok(())
}

fn address_text(address: Option<SocketAddr>) -> String {
    address.map_or_else(|| "-".to_owned(), |address| address.to_string())
}

/// Waits for Ctrl-C, SIGTERM, or the end of standard input if asked.
async fn wait_for_stop(stop_when_stdin_closes: bool) -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let (closed, stdin_closed) = oneshot::channel();
    if stop_when_stdin_closes {
        // A plain thread: a blocked read must not hold the runtime's exit.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = closed.send(());
        });
    }
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted,
        _ = terminate.recv() => Ok(()),
        Ok(()) = stdin_closed => Ok(()),
    }
}

/// One node process of the zone, as its supervisor sees it.
struct NodeProcess {
    name: String,
    child: Child,
    stdin: ChildStdin,
}

/// `kuafu zone --processes`: starts every node of the zone file as its own
/// process, prints where each listens, and stops them all on Ctrl-C or
/// when one of them exits (an error then).
pub async fn run_zone(config_path: &Path) -> Result<(), Failure> {
    let mut zone = ProcessZone::start(&std::env::current_exe()?, config_path).await?;
    for line in &zone.ready_lines {
        println!("{line}");
    }
    println!(
        "zone {} running as {} processes; account center at {}; Ctrl-C stops them all",
        zone.name,
        zone.supervised.len(),
        zone.account_addr
    );
    let outcome = tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.map_err(Into::into),
        exit = zone.next_exit() => Err(exit.into()),
    };
    zone.stop().await;
    outcome
}

/// A zone whose every node runs as a supervised process of this binary
/// (what `kuafu zone --processes`, `kuafu bench hop --backend distributed`
/// and the zone suite's process backend run).
pub struct ProcessZone {
    /// The zone's name.
    pub name: String,
    /// The account center's TCP address.
    pub account_addr: String,
    /// One line per node: its name, process id and where it listens.
    pub ready_lines: Vec<String>,
    executable: PathBuf,
    config_path: PathBuf,
    supervised: Vec<Supervised>,
    exits: mpsc::Sender<(String, ExitStatus)>,
    exited: mpsc::Receiver<(String, ExitStatus)>,
}

impl ProcessZone {
    /// Starts every node of the zone file as a process of `executable` (a
    /// kuafu binary), one after the other, each once the one before is
    /// ready; a node that fails to start stops the ones started.
    pub async fn start(executable: &Path, config_path: &Path) -> Result<Self, Failure> {
        let config = ZoneConfig::load(config_path)?;
        if config.distributed.is_none() {
            return Err("--processes needs a [distributed] section in the zone file".into());
        }
        let (exits, exited) = mpsc::channel(config.node_names().len());
        let mut zone = Self {
            name: config.zone.clone(),
            account_addr: String::from("-"),
            ready_lines: Vec::new(),
            executable: executable.to_owned(),
            config_path: config_path.to_owned(),
            supervised: Vec::new(),
            exits,
            exited,
        };
        for name in config.node_names() {
            if let Err(error) = zone.start_node(&name).await {
                zone.stop().await;
                return Err(error);
            }
        }
        Ok(zone)
    }

    /// Starts node `name` as a process and supervises it once it is ready.
    async fn start_node(&mut self, name: &str) -> Result<(), Failure> {
        let mut node = spawn_node(&self.executable, &self.config_path, name)?;
        let ready = wait_ready(&mut node)
            .await
            .map_err(|error| format!("node {name}: {error}"))?;
        let pid = node.child.id().unwrap_or(0);
        let line = format!("{name}: pid {pid} {ready}");
        let prefix = format!("{name}: ");
        self.ready_lines.retain(|old| !old.starts_with(&prefix));
        self.ready_lines.push(line);
        if name == zone::ACCOUNT_NODE {
            self.account_addr = ready_address(&ready).unwrap_or_default();
        }
        self.supervised
            .push(supervise(node, pid, self.exits.clone()));
        Ok(())
    }

    /// Kills node `name` with SIGKILL (a crash: nothing is saved or
    /// released) and waits until it is gone.
    pub async fn kill(&mut self, name: &str) -> Result<(), Failure> {
        // Its supervising task ends without reporting the exit: a kill
        // asked for is no node exiting on its own.
        let index = self.supervised.iter().position(|node| node.name == name);
        let index = index.ok_or_else(|| format!("no running node {name}"))?;
        let node = self.supervised.swap_remove(index);
        let _ = node.control.send(Control::Kill);
        node.task.await?;
        Ok(())
    }

    /// Starts node `name` again (after [`ProcessZone::kill`]): a new
    /// process, a new incarnation, the same zone file.
    pub async fn restart(&mut self, name: &str) -> Result<(), Failure> {
        if self.supervised.iter().any(|node| node.name == name) {
            return Err(format!("node {name} is running").into());
        }
        self.start_node(name).await
    }

    /// The process id of running node `name` (for a signal, such as the
    /// zone suite's SIGSTOP/SIGCONT stall).
    pub fn pid(&self, name: &str) -> Option<u32> {
        let node = self.supervised.iter().find(|node| node.name == name)?;
        Some(node.pid)
    }

    /// Waits until a node exits on its own, and says which and how.
    pub async fn next_exit(&mut self) -> String {
        match self.exited.recv().await {
            Some((name, status)) => format!("node {name} exited ({status}); stopping the zone"),
            None => "every node's supervisor ended".to_owned(),
        }
    }

    /// Stops every node at once (closing its standard input) and waits for
    /// all of them.
    pub async fn stop(self) {
        stop_all(self.supervised).await;
    }
}

fn spawn_node(executable: &Path, config: &Path, name: &str) -> std::io::Result<NodeProcess> {
    let mut child = Command::new(executable)
        .arg("node")
        .arg("--config")
        .arg(config)
        .args(["--name", name, "--stop-when-stdin-closes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdin = child.stdin.take().expect("piped");
    Ok(NodeProcess {
        name: name.to_owned(),
        child,
        stdin,
    })
}

/// Reads the node's standard output up to its ready line (returned without
/// the prefix), then forwards the rest to ours.
async fn wait_ready(node: &mut NodeProcess) -> Result<String, Failure> {
    let stdout = node.child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..STARTUP_LINES_MAX {
        let Some(line) = lines.next_line().await? else {
            let status = node.child.wait().await?;
            return Err(format!("exited before it was ready ({status})").into());
        };
        if let Some(ready) = line.strip_prefix(READY_PREFIX) {
            let name = node.name.clone();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    println!("{name}: {line}");
                }
            });
            return Ok(ready.trim().to_owned());
        }
        println!("{}: {line}", node.name);
    }
    Err(format!("no ready line in its first {STARTUP_LINES_MAX} lines").into())
}

/// The TCP address of a ready line, if it has one.
fn ready_address(ready: &str) -> Option<String> {
    let address = ready.strip_prefix("tcp ")?.split_whitespace().next()?;
    (address != "-").then(|| address.to_owned())
}

/// A supervised node: reports its exit; on [`Control::Stop`] closes its
/// standard input and waits for it (killing it after [`NODE_STOP_WAIT`]);
/// on [`Control::Kill`] kills it at once.
struct Supervised {
    name: String,
    pid: u32,
    control: oneshot::Sender<Control>,
    task: tokio::task::JoinHandle<()>,
}

/// What the supervisor asks of a node's supervising task.
enum Control {
    /// A graceful stop.
    Stop,
    /// A crash (SIGKILL).
    Kill,
}

fn supervise(node: NodeProcess, pid: u32, exits: mpsc::Sender<(String, ExitStatus)>) -> Supervised {
    let (control, controlled) = oneshot::channel::<Control>();
    let NodeProcess {
        name,
        mut child,
        stdin,
    } = node;
    let supervised_name = name.clone();
    let task = tokio::spawn(async move {
        let control = tokio::select! {
            Ok(status) = child.wait() => {
                let _ = exits.send((name, status)).await;
                return;
            }
            control = controlled => control,
        };
        if let Ok(Control::Kill) = control {
            if let Err(error) = child.kill().await {
                eprintln!("node {name}: {error}");
            }
            return;
        }
        drop(stdin);
        match tokio::time::timeout(NODE_STOP_WAIT, child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => eprintln!("node {name} stopped: {status}"),
            Ok(Err(error)) => eprintln!("node {name}: {error}"),
            Err(_elapsed) => {
                eprintln!("node {name} did not stop in {NODE_STOP_WAIT:?}; killing it");
                let _ = child.kill().await;
            }
        }
    });
    Supervised {
        name: supervised_name,
        pid,
        control,
        task,
    }
}

/// Stops every supervised node at once and waits for all of them.
async fn stop_all(supervised: Vec<Supervised>) {
    let tasks: Vec<_> = supervised
        .into_iter()
        .map(|node| {
            let _ = node.control.send(Control::Stop);
            node.task
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}
