//! The ensemble's membership in openraft's terms: the participants of zoo.cfg are the voters
//! (initialised once, on the first start of a pristine server), the observers are learners,
//! which the leader adds and which never vote, so their failure never costs the quorum.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::async_runtime::watch::WatchReceiver;
use openraft::error::{InitializeError, RaftError};
use openraft::BasicNode;
use tokio::sync::watch;

use super::{Raft, Role, RoleState};
use crate::config::EnsembleConfig;
use crate::ids::ServerId;

/// How often the leader checks that every observer is a learner.
const LEARNER_CHECK_INTERVAL: Duration = Duration::from_secs(1);

fn node_of(endpoint: String) -> BasicNode {
    BasicNode::new(endpoint)
}

/// On the first start of a participant, proposes the voters of the configuration. Every
/// participant does it with the same voters (openraft's documented safe case); a server
/// already initialised (a restart, or one that already received the membership from a
/// leader) leaves its membership as it is. Observers never initialise: a leader adds them.
pub(crate) async fn initialize_once(raft: &Raft, ensemble: &EnsembleConfig) -> Result<(), String> {
    if ensemble.me().observer {
        return Ok(());
    }
    let initialized = raft.is_initialized().await.map_err(|e| e.to_string())?;
    if initialized {
        return Ok(());
    }
    let voters: BTreeMap<ServerId, BasicNode> = ensemble
        .voters()
        .map(|m| (m.id, node_of(m.quorum_endpoint())))
        .collect();
    match raft.initialize(voters).await {
        Ok(()) => {
            tracing::info!(
                voters = ensemble.voter_count(),
                "ensemble membership initialized"
            );
            Ok(())
        }
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
        Err(err) => Err(err.to_string()),
    }
}

/// While this server leads, makes every observer of the configuration a learner.
pub(crate) async fn keep_observers_as_learners(
    raft: Raft,
    observers: Vec<(ServerId, String)>,
    mut role: watch::Receiver<RoleState>,
    mut stopped: watch::Receiver<bool>,
) {
    if observers.is_empty() {
        return;
    }
    loop {
        if role.borrow().role == Role::Leader {
            add_missing_learners(&raft, &observers).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(LEARNER_CHECK_INTERVAL) => {}
            changed = role.changed() => if changed.is_err() { return },
            _ = stopped.changed() => return,
        }
    }
}

async fn add_missing_learners(raft: &Raft, observers: &[(ServerId, String)]) {
    let known: Vec<ServerId> = {
        let metrics = raft.metrics();
        let m = metrics.borrow_watched();
        m.membership_config.nodes().map(|(id, _)| *id).collect()
    };
    for (id, endpoint) in observers {
        if known.contains(id) {
            continue;
        }
        match raft
            .add_learner(*id, node_of(endpoint.clone()), false)
            .await
        {
            Ok(_) => tracing::info!(observer = id, "observer added as a learner"),
            Err(err) => tracing::warn!(observer = id, %err, "could not add an observer"),
        }
    }
}
