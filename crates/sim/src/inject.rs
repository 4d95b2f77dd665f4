//! Fault injection during the safety phase, at the rates of the seed's
//! [`crate::faults::FaultMix`]: node crashes (and restarts), process pauses
//! (a stop-the-world stall: the node's clock runs on, everything addressed
//! to it waits), partitions of a shape drawn from a menu (a node loses its
//! network, its database, its players or one peer; the data center is cut
//! off; a random split; any of them one-way), and cuts of client connections. Message-level
//! faults (loss, duplication, spikes, commit outcomes) are drawn where the
//! messages travel, in `bus` and `store_link`.

use crate::fault_kinds::FaultKind;
use crate::queue::SimEvent;
use crate::world::{ACCOUNT_BIT, CLIENTS_BIT, DATACENTER_BIT, DB_BIT, START_MS, World, srvname};

/// A partition: traffic between endpoints in `side` and endpoints in `other`
/// is cut (with `one_way`, only traffic from `side` to `other`).
pub(crate) struct Partition {
    id: u64,
    side: u32,
    other: u32,
    one_way: bool,
    until_ms: u64,
}

impl World {
    /// Until when traffic from `from` to `to` is cut, if it is.
    pub(crate) fn cut_until(&self, from: u32, to: u32) -> Option<u64> {
        self.partitions
            .iter()
            .filter(|partition| {
                let outward = partition.side & from != 0 && partition.other & to != 0;
                let inward = partition.other & from != 0 && partition.side & to != 0;
                outward || (inward && !partition.one_way)
            })
            .map(|partition| partition.until_ms)
            .max()
    }

    pub(crate) fn schedule_fault_ticks(&mut self) {
        let ticks = [
            (self.mix.crash_every_ms, SimEvent::CrashTick),
            (self.mix.partition_every_ms, SimEvent::PartitionTick),
            (self.mix.cut_every_ms, SimEvent::CutTick),
            (self.mix.pause_every_ms, SimEvent::PauseTick),
        ];
        for (every_ms, tick) in ticks {
            if every_ms > 0 {
                let at = self.now_ms + self.prng.between(0, 2 * every_ms);
                self.queue.push(at, tick);
            }
        }
    }

    /// The next tick of a fault that comes every `every_ms` on average.
    fn next_tick(&mut self, every_ms: u64, tick: SimEvent) {
        let at = self.now_ms + self.prng.between(1, 2 * every_ms);
        self.queue.push(at, tick);
    }

    pub(crate) fn crash_tick(&mut self) -> bool {
        if self.mix.crash_every_ms == 0 {
            return false;
        }
        self.trace.add(&[self.now_ms, 17]);
        let node = self.prng.index(self.nodes.len());
        if self.nodes[node].core.is_some() {
            self.crash(node);
            let at = self.now_ms + self.prng.between(100, self.mix.downtime_max_ms);
            self.queue.push(at, SimEvent::Restart { node });
        }
        self.next_tick(self.mix.crash_every_ms, SimEvent::CrashTick);
        true
    }

    pub(crate) fn pause_tick(&mut self) -> bool {
        if self.mix.pause_every_ms == 0 {
            return false;
        }
        self.trace.add(&[self.now_ms, 23]);
        let node = self.prng.index(self.nodes.len());
        if self.nodes[node].core.is_some() && self.nodes[node].paused_until_ms <= self.now_ms {
            self.inject(FaultKind::Pause);
            let until_ms = self.now_ms + self.prng.between(50, self.mix.pause_max_ms);
            self.log(|| format!("{} pauses until {}", srvname(node), until_ms - START_MS));
            self.nodes[node].paused_until_ms = until_ms;
        }
        self.next_tick(self.mix.pause_every_ms, SimEvent::PauseTick);
        true
    }

    /// Starts a partition of a shape drawn from a menu of the usual ones: a
    /// node loses its network, a node loses its database, a node loses its
    /// players, the data center is cut off, two game servers lose each other
    /// (one-way: a home server's heartbeats miss a server that still holds
    /// its players' rows), or a random split.
    pub(crate) fn partition_tick(&mut self) -> bool {
        if self.mix.partition_every_ms == 0 {
            return false;
        }
        self.trace.add(&[self.now_ms, 19]);
        let everyone =
            ((1u32 << self.nodes.len()) - 1) | ACCOUNT_BIT | DATACENTER_BIT | DB_BIT | CLIENTS_BIT;
        let node = 1u32 << self.prng.index(self.nodes.len());
        let peer = 1u32 << self.prng.index(self.nodes.len());
        let (side, other) = match self.prng.below(6) {
            0 => (node, everyone & !node),
            1 => (node, DB_BIT),
            2 => (node, CLIENTS_BIT),
            3 => (DATACENTER_BIT, everyone & !DATACENTER_BIT),
            4 => (node, peer & !node),
            _ => {
                let side = (self.prng.next_u64() as u32) & everyone;
                (side, everyone & !side)
            }
        };
        if side != 0 && other != 0 {
            let id = self.next_partition;
            self.next_partition += 1;
            let one_way = self.prng.chance(self.mix.one_way_ppm);
            let until_ms = self.now_ms + self.prng.between(100, self.mix.partition_max_ms);
            self.inject(if one_way {
                FaultKind::OneWayPartition
            } else {
                FaultKind::Partition
            });
            self.log(|| {
                format!(
                    "partition {id}: {side:#x} from {other:#x} one-way {one_way} until {}",
                    until_ms - START_MS
                )
            });
            self.partitions.push(Partition {
                id,
                side,
                other,
                one_way,
                until_ms,
            });
            self.queue.push(until_ms, SimEvent::PartitionEnd { id });
        }
        self.next_tick(self.mix.partition_every_ms, SimEvent::PartitionTick);
        true
    }

    pub(crate) fn partition_ends(&mut self, id: u64) -> bool {
        let before = self.partitions.len();
        self.partitions.retain(|partition| partition.id != id);
        if self.partitions.len() == before {
            return false;
        }
        self.trace.add(&[self.now_ms, 20, id]);
        self.log(|| format!("partition {id} heals"));
        true
    }

    /// Cuts a random open client connection.
    pub(crate) fn cut_tick(&mut self) -> bool {
        if self.mix.cut_every_ms == 0 {
            return false;
        }
        self.trace.add(&[self.now_ms, 21]);
        let open: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, link)| link.client.is_some() && link.client_open && link.node_open)
            .map(|(session, _)| *session)
            .collect();
        if !open.is_empty() {
            let session = open[self.prng.index(open.len())];
            self.inject(FaultKind::ClientCut);
            self.log(|| format!("cut session {session}"));
            self.cut_link(session);
        }
        self.next_tick(self.mix.cut_every_ms, SimEvent::CutTick);
        true
    }
}
