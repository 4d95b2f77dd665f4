//! `kuafu audit`: checks every player of a zone against its ledger (stored
//! gold and items equal the sums of their reasoned ledger lines), that every
//! ledger line names its writer (owner and epoch), that no epoch of a role
//! has two writers and that epochs never go back along a role's ledger, and
//! that every gift's credit pairs with its debit, once, across the zone's
//! databases (a debit not yet credited is in flight, not a problem). A
//! distributed zone file is audited in its PostgreSQL player databases.

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
    let (mut roles, mut lines, mut problems) = (0, 0, 0);
    let mut gifts = store::gifts::GiftBook::default();
    for (server, report) in zone::audit(&config)? {
        println!(
            "audit {server}: roles={} ledger_lines={} mismatches={} lines_without_writer={} \
             epochs_with_two_writers={} epochs_going_back={}",
            report.roles,
            report.ledger_lines,
            report.mismatches.len(),
            report.lines_without_writer,
            report.epochs_with_two_writers.len(),
            report.epochs_going_back.len()
        );
        for (roleid, mismatch) in &report.mismatches {
            println!("  role {roleid}: {mismatch}");
        }
        for (roleid, epoch) in &report.epochs_with_two_writers {
            println!("  role {roleid}: two writers in epoch {epoch}");
        }
        for (roleid, seq) in &report.epochs_going_back {
            println!("  role {roleid}: ledger line {seq} has an older epoch than a line before it");
        }
        (roles, lines, problems) = (
            roles + report.roles,
            lines + report.ledger_lines,
            problems + report.problems(),
        );
        gifts.merge(report.gifts);
    }
    problems += print_gifts(&gifts);
    println!("audit: roles={roles} ledger_lines={lines} problems={problems}");
    if problems > 0 {
        return Err(format!("the audit found {problems} problem(s)").into());
    }
    Ok(())
}

/// Prints the zone's gift pairing; returns how many gifts are unpaired.
fn print_gifts(gifts: &store::gifts::GiftBook) -> usize {
    let pairing = gifts.pairing();
    println!(
        "audit gifts: debited={} paired={} in_flight={} unpaired={}",
        pairing.debited,
        pairing.paired,
        pairing.in_flight,
        pairing.unpaired.len()
    );
    for id in &pairing.unpaired {
        println!(
            "  gift {}:{} is credited twice or without its debit",
            id.from_roleid, id.seq
        );
    }
    pairing.unpaired.len()
}
