//! The rank server's node messages (node.proto fields 100–109): decoding a
//! request into the core's terms, and building its answers.

use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{
    Ack, NodeError, NodeMessage, RankEntry, RankPage, RankQuery, RankSnapshotTaken, RankUpdate,
    RankWindow,
};

use crate::board::{Page, Update, Version, Window};
use crate::limits::BOARD_NAME_BYTES_MAX;

/// A board's name, checked: not empty, at most [`BOARD_NAME_BYTES_MAX`]
/// bytes.
pub fn board_name(name: String) -> Result<String, NodeMessage> {
    if name.is_empty() || name.len() > BOARD_NAME_BYTES_MAX {
        return Err(error(
            ErrorCode::BadArgument,
            format!("a board's name is 1..={BOARD_NAME_BYTES_MAX} bytes"),
        ));
    }
    Ok(name)
}

/// An update's board and content, checked.
pub fn update(message: RankUpdate) -> Result<(String, Update), NodeMessage> {
    let board = board_name(message.board)?;
    let update = Update {
        roleid: role(message.roleid)?,
        score: message.score,
        version: Version {
            epoch: message.epoch,
            seq: message.seq,
        },
    };
    Ok((board, update))
}

/// A query, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The board.
    pub board: String,
    /// Its latest snapshot rather than the live board.
    pub snapshot: bool,
    /// Which part.
    pub window: Window,
    /// Whose own rank the answer carries.
    pub asker: Option<RoleId>,
}

/// A query's board, window and asker, checked.
pub fn query(query: RankQuery) -> Result<Query, NodeMessage> {
    let board = board_name(query.board)?;
    let limit = query.limit as usize;
    let window = match RankWindow::try_from(query.window) {
        Ok(RankWindow::From) => Window::From {
            from: query.rank,
            limit,
        },
        Ok(RankWindow::Until) => Window::Until {
            until: query.rank,
            limit,
        },
        Ok(RankWindow::Around) => Window::Around { radius: limit },
        Err(_) => {
            return Err(error(
                ErrorCode::BadArgument,
                format!("unknown rank window {}", query.window),
            ));
        }
    };
    let asker = match query.asker {
        0 => None,
        raw => Some(role(raw)?),
    };
    if asker.is_none() && matches!(window, Window::Around { .. }) {
        return Err(error(
            ErrorCode::BadArgument,
            "a window around the asker names no asker".to_owned(),
        ));
    }
    Ok(Query {
        board,
        snapshot: query.snapshot,
        window,
        asker,
    })
}

fn role(raw: u64) -> Result<RoleId, NodeMessage> {
    RoleId::from_raw(raw).map_err(|bad| error(ErrorCode::UnknownRole, bad.to_string()))
}

/// The answer to a query: `snapshot` is the snapshot's number, 0 for the
/// live board.
pub fn page(page: Page, snapshot: u64) -> NodeMessage {
    let entries = page
        .entries
        .into_iter()
        .map(|placed| RankEntry {
            rank: placed.rank,
            roleid: placed.roleid.get(),
            score: placed.score,
        })
        .collect();
    message(Body::RankPage(RankPage {
        entries,
        total: page.total,
        own_rank: page.own_rank.unwrap_or(0),
        snapshot,
    }))
}

/// A snapshot is durable, numbered `snapshot`.
pub fn snapshot_taken(snapshot: u64) -> NodeMessage {
    message(Body::RankSnapshotTaken(RankSnapshotTaken { snapshot }))
}

/// An update is durable (or changed nothing).
pub fn ack() -> NodeMessage {
    message(Body::Ack(Ack {}))
}

/// A refusal.
pub fn error(code: ErrorCode, text: String) -> NodeMessage {
    message(Body::Error(NodeError {
        code: code as i32,
        message: text,
    }))
}

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}
