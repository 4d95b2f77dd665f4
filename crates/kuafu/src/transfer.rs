//! `kuafu transfer`: the operator's transfer (转服, DESIGN §7) of an offline
//! role to another srvno of a distributed zone, over NATS (as node
//! `operator`) and the zone's PostgreSQL player databases
//! (`zone::transfer`). Resumable: a run that stopped anywhere is finished
//! by running the same command again.

use std::path::PathBuf;

use clap::Args;
use routing::RoleId;
use zone::ZoneConfig;

/// Which role goes where.
#[derive(Args, Debug)]
pub struct TransferArgs {
    /// The zone file, with a [distributed] section.
    #[arg(long)]
    pub config: PathBuf,
    /// The role id.
    #[arg(long)]
    pub role: u64,
    /// The srvno whose database becomes the role's home.
    #[arg(long)]
    pub to_srvno: u32,
}

/// Runs the transfer and prints what it did.
pub async fn run(args: &TransferArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = ZoneConfig::load(&args.config)?;
    let roleid = RoleId::from_raw(args.role)?;
    let done = zone::transfer_in_distributed_zone(&config, roleid, args.to_srvno).await?;
    let transfer = done.transfer;
    println!(
        "transfer: role {} now at home on srvno {} (from srvno {})",
        transfer.roleid, transfer.to, transfer.from
    );
    Ok(())
}
