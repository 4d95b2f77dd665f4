//! Reading the rank server from any node or operator tool, over any bus:
//! top N, a page by rank either way, a role's rank and its neighbours, live
//! or from the latest snapshot. Each answer is read at one instant.

use std::time::Duration;

use bus::{Bus, BusError};
use routing::RoleId;
use wire::client::ErrorCode;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, RankPage, RankQuery, RankWindow};

/// Which ranking to read: the rank node's name, the board, and whether
/// its latest snapshot rather than the live board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranking<'a> {
    /// The rank server's node name.
    pub node: &'a str,
    /// The board, e.g. `level`.
    pub board: &'a str,
    /// The latest snapshot instead of the live board.
    pub snapshot: bool,
}

/// Asks `ranking` for `window` (`rank`, `limit`) with `asker`'s own rank,
/// as node `from`, waiting at most `deadline`.
pub async fn page(
    bus: &dyn Bus,
    from: &str,
    deadline: Duration,
    ranking: &Ranking<'_>,
    (window, rank, limit): (RankWindow, u64, u32),
    asker: Option<RoleId>,
) -> Result<RankPage, BusError> {
    let query = RankQuery {
        board: ranking.board.to_owned(),
        snapshot: ranking.snapshot,
        window: window as i32,
        rank,
        limit,
        asker: asker.map_or(0, RoleId::get),
    };
    let message = NodeMessage {
        body: Some(Body::RankQuery(query)),
    };
    let answer = bus.request(from, ranking.node, message, deadline).await?;
    match answer.body {
        Some(Body::RankPage(page)) => Ok(page),
        other => Err(BusError::Remote {
            code: ErrorCode::UnexpectedMessage,
            message: format!("a rank query answered {other:?}"),
        }),
    }
}

/// The first `limit` of `ranking` (top N).
pub async fn top(
    bus: &dyn Bus,
    from: &str,
    deadline: Duration,
    ranking: &Ranking<'_>,
    limit: u32,
) -> Result<RankPage, BusError> {
    page(
        bus,
        from,
        deadline,
        ranking,
        (RankWindow::From, 1, limit),
        None,
    )
    .await
}

/// `roleid`'s rank (`own_rank`, 0 when unranked) and `radius` neighbours
/// on each side.
pub async fn around(
    bus: &dyn Bus,
    from: &str,
    deadline: Duration,
    ranking: &Ranking<'_>,
    roleid: RoleId,
    radius: u32,
) -> Result<RankPage, BusError> {
    let window = (RankWindow::Around, 0, radius);
    page(bus, from, deadline, ranking, window, Some(roleid)).await
}
