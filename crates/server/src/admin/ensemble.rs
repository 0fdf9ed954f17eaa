//! The AdminServer's ensemble commands (`leader`, `voting_view`, `zabstate`, `observers`),
//! answered from the configured membership and the current role, with ZooKeeper's fields. A
//! standalone server answers as ZooKeeper's standalone one does.

use serde_json::{json, Map, Value};

use super::response::CommandResponse;
use crate::status::StatusSource;

/// Runs one of this module's commands; `None` when `primary` is not one of them.
pub(crate) fn run(primary: &str, status: &StatusSource) -> Option<CommandResponse> {
    let mut r = CommandResponse::new(primary);
    match primary {
        "leader" => match status.leader_facts() {
            Some(l) => {
                r.put("is_leader", l.is_leader);
                r.put("leader_id", l.leader_id);
                r.put("leader_ip", l.leader_ip);
            }
            None => r.put("error", "server is not initialized"),
        },
        "voting_view" => {
            // ZooKeeper's voting view: the participants (observers do not vote).
            let view: Map<String, Value> = status
                .members()
                .iter()
                .filter(|m| !m.observer)
                .map(|m| {
                    let server = json!({
                        "server_addresses": [m.quorum_address],
                        "election_addresses": [m.election_address],
                        "client_address": m.client_address,
                        "learner_type": "participant",
                    });
                    (m.id.to_string(), server)
                })
                .collect();
            r.put("current_config", view);
        }
        "zabstate" => match status.zab_facts() {
            Some(z) => {
                r.put("myid", z.my_id);
                r.put("is_leader", z.is_leader);
                r.put("quorum_address", z.quorum_address);
                r.put("election_address", z.election_address);
                r.put("client_address", z.client_address);
                r.put("voting", z.voting);
                r.put("last_zxid", format!("0x{:x}", z.last_zxid));
                // A zxid's halves as ZooKeeper splits it (Corral's zxid is its log index).
                r.put("zab_epoch", (z.last_zxid as u64 >> 32) as i64);
                r.put("zab_counter", z.last_zxid as u64 & 0xffff_ffff);
                r.put("zabstate", z.zab_state);
            }
            None => {
                r.put("voting", false);
                r.put("zabstate", "");
            }
        },
        "observers" => {
            // The leader's synced observers; Corral has no observer masters, so a follower
            // serves none, which ZooKeeper reports as 0 and an empty list.
            let observers: Vec<Value> = status
                .synced_observers()
                .iter()
                .map(|m| json!({ "sid": m.id, "remote_socket_address": m.quorum_address }))
                .collect();
            r.put("synced_observers", observers.len());
            r.put("observers", observers);
        }
        _ => return None,
    }
    Some(r)
}
