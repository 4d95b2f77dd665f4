//! The node messages the game core builds (package `kuafu.node.v1`), and
//! the answer type of the requests it serves.

use routing::RoleId;
use wire::client::{CrossContext, ErrorCode, HornHeard, RoleSummary};
use wire::node::node_message::Body;
use wire::node::{
    Ack, Arrived, BattleRequest, GetCurrent, Gift, GiftDelivery, HornBroadcast, IsOnline, Left,
    NodeError, NodeMessage, Prepare, RoleCreatedNote, RoleLevelNote, SetCurrent,
};

use crate::Config;
use crate::tokens::token_to_bytes;

/// A request's answer, or the error to reply.
pub(crate) type Answer = Result<NodeMessage, (ErrorCode, String)>;

fn message(body: Body) -> NodeMessage {
    NodeMessage { body: Some(body) }
}

pub(crate) fn ack() -> NodeMessage {
    message(Body::Ack(Ack {}))
}

pub(crate) fn error(code: ErrorCode, text: String) -> NodeMessage {
    message(Body::Error(NodeError {
        code: code as i32,
        message: text,
    }))
}

pub(crate) fn is_online(roleid: RoleId) -> NodeMessage {
    message(Body::IsOnline(IsOnline {
        roleid: roleid.get(),
    }))
}

pub(crate) fn arrived(roleid: RoleId, at_srvname: &str, epoch: u64) -> NodeMessage {
    message(Body::Arrived(Arrived {
        roleid: roleid.get(),
        at_srvname: at_srvname.to_owned(),
        epoch,
    }))
}

pub(crate) fn left(roleid: RoleId, from_srvname: &str, epoch: u64) -> NodeMessage {
    message(Body::Left(Left {
        roleid: roleid.get(),
        from_srvname: from_srvname.to_owned(),
        epoch,
    }))
}

pub(crate) fn set_current(roleid: RoleId, srvname: &str, online: bool, epoch: u64) -> NodeMessage {
    message(Body::SetCurrent(SetCurrent {
        roleid: roleid.get(),
        srvname: srvname.to_owned(),
        online,
        epoch,
    }))
}

pub(crate) fn get_current(roleid: RoleId) -> NodeMessage {
    message(Body::GetCurrent(GetCurrent {
        roleid: roleid.get(),
    }))
}

pub(crate) fn gift_delivery(gift: Gift) -> NodeMessage {
    message(Body::GiftDelivery(GiftDelivery { gift: Some(gift) }))
}

pub(crate) fn role_level(roleid: RoleId, level: u32, epoch: u64) -> NodeMessage {
    message(Body::RoleLevel(RoleLevelNote {
        roleid: roleid.get(),
        level,
        epoch,
    }))
}

/// The rank board a player's level goes to.
pub(crate) const LEVEL_BOARD: &str = "level";

/// `roleid`'s level on the `level` board; the version is the row's epoch
/// and the level (which only grows within an epoch).
pub(crate) fn rank_level(roleid: RoleId, level: u32, epoch: u64) -> NodeMessage {
    message(Body::RankUpdate(wire::node::RankUpdate {
        board: LEVEL_BOARD.to_owned(),
        roleid: roleid.get(),
        score: i64::from(level),
        epoch,
        seq: u64::from(level),
    }))
}

pub(crate) fn role_created(account_id: u64, role: RoleSummary) -> NodeMessage {
    message(Body::RoleCreated(RoleCreatedNote {
        account_id,
        role: Some(role),
    }))
}

pub(crate) fn horn(heard: &HornHeard) -> NodeMessage {
    let horn = HornBroadcast {
        from_roleid: heard.from_roleid,
        from_name: heard.from_name.clone(),
        text: heard.text.clone(),
    };
    message(Body::Horn(horn))
}

pub(crate) fn battle_request(
    roleid: RoleId,
    player_level: u32,
    monster_level: u32,
    seed: u64,
) -> NodeMessage {
    message(Body::BattleRequest(BattleRequest {
        roleid: roleid.get(),
        player_level,
        monster_level,
        seed,
    }))
}

pub(crate) fn prepare(
    roleid: RoleId,
    token: u128,
    home_srvname: &str,
    context: CrossContext,
    config: &Config,
) -> NodeMessage {
    message(Body::Prepare(Prepare {
        roleid: roleid.get(),
        token: token_to_bytes(token),
        home_srvname: home_srvname.to_owned(),
        context: Some(context),
        ttl_ms: config.token_ttl_ms,
        from_srvname: config.srvname.clone(),
    }))
}
