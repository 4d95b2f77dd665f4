//! `kuafu audit`: checks every player of a zone against its ledger (stored
//! gold and items equal the sums of their reasoned ledger lines).

use std::path::PathBuf;

use clap::Args;
use zone::ZoneConfig;

/// Which zone to audit.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The zone file; without it, the demo zone in `--data-dir`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The demo zone's data directory.
    #[arg(long, default_value = "./kuafu-data")]
    pub data_dir: PathBuf,
    /// The demo zone's number of game servers.
    #[arg(long, default_value_t = 3)]
    pub servers: u32,
}

/// Audits every game server database and prints one line each and a total.
pub fn run(args: &AuditArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = match &args.config {
        Some(path) => ZoneConfig::load(path)?,
        None => ZoneConfig::demo(&args.data_dir, args.servers),
    };
    let (mut roles, mut lines, mut mismatches) = (0, 0, 0);
    for (server, report) in zone::audit(&config)? {
        println!(
            "audit {server}: roles={} ledger_lines={} mismatches={}",
            report.roles,
            report.ledger_lines,
            report.mismatches.len()
        );
        for (roleid, mismatch) in &report.mismatches {
            println!("  role {roleid}: {mismatch}");
        }
        (roles, lines, mismatches) = (
            roles + report.roles,
            lines + report.ledger_lines,
            mismatches + report.mismatches.len(),
        );
    }
    println!("audit: roles={roles} ledger_lines={lines} mismatches={mismatches}");
    if mismatches > 0 {
        return Err(format!("{mismatches} role(s) do not match their ledger").into());
    }
    Ok(())
}
