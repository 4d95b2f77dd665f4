//! A private PostgreSQL cluster for a crash test: created by the test in a
//! temporary directory and started on a free port of its own, so the test
//! may stop and restart it (the shared server on 5432 is never touched).
//! It is stopped through its own data directory when dropped, even when the
//! test panics.
//!
//! PostgreSQL's `initdb` refuses to run as root: as root, the data
//! directory is handed to the `postgres` user and its programs run as that
//! user (`runuser`); as anyone else they run directly. `pg_ctl -w` returns
//! once the server takes connections. Missing programs fail the test under
//! `CI=true` and skip it elsewhere (`test_support::service_missing`).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use tempfile::TempDir;

/// Where Debian installs PostgreSQL's programs, one directory per version.
const POSTGRESQL_VERSIONS: &str = "/usr/lib/postgresql";
/// The user PostgreSQL's programs run as when the test runs as root.
const POSTGRES_USER: &str = "postgres";

/// A PostgreSQL cluster of this test's own, in a temporary directory.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_root: bool,
}

impl PrivatePostgres {
    /// Creates the cluster (`initdb`, trust authentication, user
    /// `postgres`) and starts it on a free port; `None` when PostgreSQL is
    /// not installed outside CI (the reason is printed). Blocks.
    pub fn start() -> Option<Self> {
        let Some(bin) = newest_postgresql_bin() else {
            return test_support::service_missing(&format!(
                "no PostgreSQL programs under {POSTGRESQL_VERSIONS}"
            ));
        };
        let postgres = Self {
            bin,
            dir: tempfile::tempdir().expect("a temporary directory"),
            port: test_support::free_port(),
            as_root: running_as_root(),
        };
        if postgres.as_root {
            let owner = format!("{POSTGRES_USER}:{POSTGRES_USER}");
            let dir = postgres.dir.path().as_os_str();
            run(Command::new("chown").arg(owner).arg(dir));
        }
        let data = postgres.data_dir();
        let initdb = &mut postgres.program("initdb");
        run(initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"]));
        postgres.restart();
        Some(postgres)
    }

    /// The connection string of database `dbname` on this server.
    pub fn config(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname}",
            self.port
        )
    }

    /// Creates database `dbname`. Blocks.
    pub fn create_database(&self, dbname: &str) {
        let admin = store_postgres::test_support::Session::open(&self.config("postgres"))
            .unwrap_or_else(|reason| panic!("the private PostgreSQL: {reason}"));
        admin.execute(&format!("CREATE DATABASE {dbname}"));
    }

    /// Stops the server at once, as a crash would (`pg_ctl -m immediate`:
    /// no checkpoint; the next start recovers from the write-ahead log).
    /// Blocks.
    pub fn stop_immediately(&self) {
        run(self.program("pg_ctl").arg("-D").arg(self.data_dir()).args([
            "-m",
            "immediate",
            "stop",
        ]));
    }

    /// Starts the server (again); returns once it takes connections.
    /// Blocks.
    pub fn restart(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        run(self
            .program("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-o", &options, "-l"])
            .arg(log)
            .args(["-w", "start"]));
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// PostgreSQL's program `name`, as the `postgres` user when root.
    fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if !self.as_root {
            return Command::new(path);
        }
        let mut command = Command::new("runuser");
        command.args(["-u", POSTGRES_USER, "--"]).arg(path);
        command
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // Already stopped (a failed restart) is fine: nothing to report.
        let _ = self
            .program("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The `bin` directory of the newest PostgreSQL installed.
fn newest_postgresql_bin() -> Option<PathBuf> {
    let versions = std::fs::read_dir(POSTGRESQL_VERSIONS).ok()?;
    versions
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// Runs `command` to its end; panics with its output when it fails.
fn run(command: &mut Command) {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
