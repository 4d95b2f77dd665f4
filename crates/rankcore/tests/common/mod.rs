//! What the rank core's tests share: building requests and reading answers.

#![allow(dead_code)]

use rankcore::{BatchId, Output, RankCore, RankWrite, RequestId};
use wire::node::node_message::Body;
use wire::node::{NodeMessage, RankPage, RankQuery, RankUpdate, RankWindow, TakeRankSnapshot};

/// An update of `roleid`'s score on `board` at version `(epoch, seq)`.
pub fn update(board: &str, roleid: u64, score: i64, epoch: u64, seq: u64) -> NodeMessage {
    message(Body::RankUpdate(RankUpdate {
        board: board.to_owned(),
        roleid,
        score,
        epoch,
        seq,
    }))
}

/// A query of `board`'s live ranking (or its snapshot).
pub fn query(
    board: &str,
    snapshot: bool,
    window: RankWindow,
    rank: u64,
    limit: u32,
    asker: u64,
) -> NodeMessage {
    message(Body::RankQuery(RankQuery {
        board: board.to_owned(),
        snapshot,
        window: window as i32,
        rank,
        limit,
        asker,
    }))
}

/// A snapshot request.
pub fn take_snapshot(board: &str) -> NodeMessage {
    message(Body::TakeRankSnapshot(TakeRankSnapshot {
        board: board.to_owned(),
    }))
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

/// Drives a core: numbers requests and collects its outputs.
pub struct Driver {
    pub core: RankCore,
    next_request: u64,
    pub replies: Vec<(RequestId, NodeMessage)>,
    pub writes: Vec<(BatchId, RankWrite)>,
}

impl Driver {
    pub fn new(core: RankCore) -> Self {
        Self {
            core,
            next_request: 1,
            replies: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// Sends `message` and drains the outputs; the request's number.
    pub fn send(&mut self, message: NodeMessage) -> RequestId {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        self.core.handle_request(request, message);
        self.drain();
        request
    }

    pub fn drain(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Reply { request, message } => self.replies.push((request, message)),
                Output::Write { batch, write } => self.writes.push((batch, write)),
            }
        }
    }

    /// Answers the oldest write with `answer`; the write.
    pub fn finish_write(&mut self, answer: Result<(), rankcore::WriteError>) -> RankWrite {
        let (batch, write) = self.writes.remove(0);
        self.core.handle_write_answer(batch, answer);
        self.drain();
        write
    }

    /// Every write answered durable, until none is left.
    pub fn settle(&mut self) {
        while !self.writes.is_empty() {
            self.finish_write(Ok(()));
        }
    }

    /// The reply to `request`, if any.
    pub fn reply(&self, request: RequestId) -> Option<&NodeMessage> {
        self.replies
            .iter()
            .find(|(answered, _)| *answered == request)
            .map(|(_, message)| message)
    }

    /// Asks `message` (a query) and returns its page.
    pub fn page(&mut self, message: NodeMessage) -> RankPage {
        let request = self.send(message);
        match self.reply(request).and_then(|reply| reply.body.clone()) {
            Some(Body::RankPage(page)) => page,
            other => panic!("a query answered {other:?}"),
        }
    }
}
