//! The password hashing pool (DESIGN §11): argon2id on a fixed set of worker
//! threads, as many as the machine has cores unless the settings say
//! otherwise. Each worker owns its `Argon2` and one buffer of memory blocks
//! that it reuses for every hash, so the account center's memory stays
//! `workers × memory_kib` however many logins a storm brings.
//!
//! Jobs come from the login queue, which starts at most `jobs_per_worker`
//! per worker (one hashing, the rest ready in the job channel, so a worker
//! goes from one hash to the next without waiting for the node's task); the
//! channel's bound is that many jobs per worker, so it never fills, and a
//! full channel would be a refusal, never a wait.
//!
//! The workers' threads are named [`HASH_THREAD_PREFIX`] and their index,
//! so a benchmark can find them and read how they spent their time.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Barrier, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;
use wire::client::ErrorCode;

use crate::limits::{HASH_OUTPUT_BYTES, HASH_SALT_BYTES};

/// The start of every hashing worker's thread name (the index follows).
pub const HASH_THREAD_PREFIX: &str = "argon2-";
use crate::login::Refusal;

/// argon2id's cost parameters (OWASP's minimum by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    /// Memory per hash, in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over the memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl HashCost {
    /// argon2's parameters for these costs.
    fn params(self) -> Result<Params, String> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|error| format!("argon2 parameters: {error}"))
    }
}

/// One job for a worker.
enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, Refusal>>,
    },
    Verify {
        password: String,
        stored: String,
        reply: oneshot::Sender<Result<bool, Refusal>>,
    },
}

/// The pool; dropping it stops the workers once their jobs are done.
pub(crate) struct HashPool {
    jobs: SyncSender<Job>,
}

impl HashPool {
    /// Starts `workers` workers hashing at `cost`, with room for
    /// `jobs_per_worker` jobs each.
    pub(crate) fn start(
        workers: usize,
        jobs_per_worker: usize,
        cost: HashCost,
    ) -> Result<Self, String> {
        let params = cost.params()?;
        let workers = workers.max(1);
        let (jobs, queue) = sync_channel(workers.saturating_mul(jobs_per_worker.max(1)));
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers {
            let (queue, params) = (queue.clone(), params.clone());
            std::thread::Builder::new()
                .name(format!("{HASH_THREAD_PREFIX}{index}"))
                .spawn(move || work(&queue, params))
                .map_err(|error| format!("hash worker: {error}"))?;
        }
        Ok(Self { jobs })
    }

    /// A new salted hash of `password`, in the PHC string format.
    pub(crate) async fn hash(&self, password: String) -> Result<String, Refusal> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Whether `password` matches the `stored` PHC string.
    pub(crate) async fn verify(&self, password: String, stored: String) -> Result<bool, Refusal> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            stored,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    fn submit(&self, job: Job) -> Result<(), Refusal> {
        self.jobs.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => (ErrorCode::Busy, "the hashing pool is full".into()),
            TrySendError::Disconnected(_) => stopped(),
        })
    }
}

/// How long one argon2id hash at `cost` takes on this machine: the fastest
/// of `samples` hashes (after one to warm up), each on a worker's reused
/// memory blocks as in the pool. For `kuafu bench login`'s argon2 bound.
pub fn hash_time(cost: HashCost, samples: usize) -> Result<std::time::Duration, String> {
    let mut worker = Worker::new(cost.params()?);
    worker.hash("warm-up").map_err(|(_, message)| message)?;
    let mut fastest = std::time::Duration::MAX;
    for _ in 0..samples.max(1) {
        let started = std::time::Instant::now();
        worker.hash("kuafu-bench").map_err(|(_, message)| message)?;
        fastest = fastest.min(started.elapsed());
    }
    Ok(fastest)
}

/// Hashes per second `workers` threads reach at `cost` hashing at once,
/// `hashes` each, each on its own reused memory blocks (allocated and
/// warmed up before the clock starts): the pool's rate with nothing else
/// in the way (no network, queue or store). For `kuafu bench login`.
pub fn hash_rate(cost: HashCost, workers: usize, hashes: usize) -> Result<f64, String> {
    let params = cost.params()?;
    let workers = workers.max(1);
    let ready = Barrier::new(workers + 1);
    let (ready, params) = (&ready, &params);
    let elapsed = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || {
                    let mut worker = Worker::new(params.clone());
                    let warmed_up = worker.hash("warm-up").map(drop);
                    ready.wait();
                    warmed_up?;
                    (0..hashes).try_for_each(|_| worker.hash("kuafu-bench").map(drop))
                })
            })
            .collect();
        ready.wait();
        let started = std::time::Instant::now();
        for thread in threads {
            let hashed = thread.join().map_err(|_| "a hashing thread panicked")?;
            hashed.map_err(|(_, message)| message)?;
        }
        Ok::<_, String>(started.elapsed())
    })?;
    Ok((workers * hashes) as f64 / elapsed.as_secs_f64().max(f64::EPSILON))
}

fn stopped() -> Refusal {
    (ErrorCode::Internal, "the hashing pool stopped".into())
}

/// One worker: its `Argon2` and its memory blocks, reused for every job.
struct Worker {
    argon2: Argon2<'static>,
    blocks: Vec<Block>,
}

fn work(queue: &Mutex<Receiver<Job>>, params: Params) {
    let mut worker = Worker::new(params);
    loop {
        let job = {
            let queue = queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.recv()
        };
        match job {
            Ok(Job::Hash { password, reply }) => {
                let _gone = reply.send(worker.hash(&password));
            }
            Ok(Job::Verify {
                password,
                stored,
                reply,
            }) => {
                let _gone = reply.send(worker.verify(&password, &stored));
            }
            Err(_pool_dropped) => return,
        }
    }
}

impl Worker {
    fn new(params: Params) -> Self {
        Self {
            blocks: vec![Block::default(); params.block_count()],
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        }
    }

    fn hash(&mut self, password: &str) -> Result<String, Refusal> {
        let salt: [u8; HASH_SALT_BYTES] = rand::random();
        let mut out = [0u8; HASH_OUTPUT_BYTES];
        self.argon2
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut self.blocks)
            .map_err(internal)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).map_err(internal)?,
            salt: Some(Salt::new(&salt).map_err(internal)?),
            hash: Some(Output::new(&out).map_err(internal)?),
        };
        Ok(hash.to_string())
    }

    /// Hashes `password` with the stored hash's own parameters (an older
    /// hash may have other costs) and compares in constant time.
    fn verify(&mut self, password: &str, stored: &str) -> Result<bool, Refusal> {
        let parsed = PasswordHash::new(stored).map_err(internal)?;
        let algorithm = Algorithm::new(parsed.algorithm.as_str()).map_err(internal)?;
        let version = match parsed.version {
            Some(version) => Version::try_from(version).map_err(internal)?,
            None => Version::V0x13,
        };
        let params = Params::try_from(&parsed).map_err(internal)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(internal("the stored hash has no salt or output"));
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        let blocks_needed = params.block_count();
        let hashed = if blocks_needed <= self.blocks.len() {
            let blocks = &mut self.blocks[..blocks_needed];
            argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, blocks)
        } else {
            argon2.hash_password_into(password.as_bytes(), &salt, &mut out)
        };
        hashed.map_err(internal)?;
        Ok(Output::new(&out).map_err(internal)? == expected)
    }
}

fn internal(error: impl std::fmt::Display) -> Refusal {
    (ErrorCode::Internal, format!("password hash: {error}"))
}
