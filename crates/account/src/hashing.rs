//! The password hashing pool (DESIGN §11): argon2id on a fixed set of worker
//! threads, as many as the machine has cores unless the settings say
//! otherwise. Each worker owns its `Argon2` and one buffer of memory blocks
//! that it reuses for every hash, so the account center's memory stays
//! `workers × memory_kib` however many logins a storm brings.
//!
//! Jobs come from the login queue, which starts at most one per worker, so
//! the job channel never holds more than [`HashPool::workers`] jobs; its
//! bound is twice that, and a full channel is a refusal, never a wait.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;
use wire::client::ErrorCode;

use crate::limits::{HASH_OUTPUT_BYTES, HASH_SALT_BYTES, JOBS_PER_WORKER_MAX};
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
    workers: usize,
}

impl HashPool {
    /// Starts `workers` workers hashing at `cost`.
    pub(crate) fn start(workers: usize, cost: HashCost) -> Result<Self, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|error| format!("argon2 parameters: {error}"))?;
        let workers = workers.max(1);
        let (jobs, queue) = sync_channel(workers * JOBS_PER_WORKER_MAX);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers {
            let (queue, params) = (queue.clone(), params.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&queue, params))
                .map_err(|error| format!("hash worker: {error}"))?;
        }
        Ok(Self { jobs, workers })
    }

    /// Workers in the pool.
    pub(crate) fn workers(&self) -> usize {
        self.workers
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
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|error| format!("argon2 parameters: {error}"))?;
    let mut worker = Worker::new(params);
    worker.hash("warm-up").map_err(|(_, message)| message)?;
    let mut fastest = std::time::Duration::MAX;
    for _ in 0..samples.max(1) {
        let started = std::time::Instant::now();
        worker.hash("kuafu-bench").map_err(|(_, message)| message)?;
        fastest = fastest.min(started.elapsed());
    }
    Ok(fastest)
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
