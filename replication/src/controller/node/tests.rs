//! The node's actions for one node at a time (the quorum's behaviour with a
//! network and disks is in tests/controller_*.rs).

use super::*;
use crate::controller::LogStore;

fn config(id: u64, voters: &[u64]) -> QuorumConfig {
    QuorumConfig::new(id, voters.to_vec(), 1)
}

fn applies(actions: &[Action]) -> Vec<(u64, Vec<u8>, Option<u64>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Apply { index, data, token } => Some((*index, data.clone(), *token)),
            _ => None,
        })
        .collect()
}

/// Carries out the actions' writes, as the runtime would.
fn persist_all(store: &mut LogStore, actions: &[Action]) {
    for a in actions {
        match a {
            Action::Persist(w) => store.persist(w).unwrap(),
            Action::Compact(s) => store.compact(s).unwrap(),
            _ => {}
        }
    }
}

#[test]
fn a_fresh_node_bootstraps_its_voters_first() {
    let (node, actions) = QuorumNode::start(config(2, &[3, 1, 2]), RecoveredLog::default()).unwrap();
    match &actions[0] {
        Action::Persist(w) => {
            assert_eq!(w.conf_state.as_ref().unwrap().voters, [1, 2, 3]);
            assert!(w.entries.is_empty() && w.hard_state.is_none());
        }
        other => panic!("{other:?}"),
    }
    assert!(!node.is_leader());
    assert_eq!(node.leader(), None);
}

#[test]
fn bad_voter_lists_are_refused() {
    let start = |id, voters: &[u64]| QuorumNode::start(config(id, voters), RecoveredLog::default()).err();
    assert!(start(4, &[1, 2, 3]).unwrap().to_string().contains("not among the voters"));
    assert!(start(1, &[1, 1, 2]).unwrap().to_string().contains("repeat"));
    assert!(start(1, &[]).unwrap().to_string().contains("0 voters"));
    assert!(start(0, &[0, 1]).unwrap().to_string().contains("reserved"));
    assert!(start(1, &(1..=10).collect::<Vec<_>>()).is_some());
}

#[test]
fn single_voter_leads_at_once_and_commits_after_its_own_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, recovered) = LogStore::open(dir.path()).unwrap();
    let (mut node, actions) = QuorumNode::start(config(1, &[1]), recovered).unwrap();
    persist_all(&mut store, &actions);
    assert!(node.is_leader());
    assert!(actions.iter().any(|a| matches!(a, Action::RoleChanged { leader: Some(1), is_leader: true, .. })));
    let actions = node.handle(Event::Propose { data: b"create".to_vec(), token: 7 });
    // The write comes before the apply it makes possible.
    let persist = actions.iter().position(|a| matches!(a, Action::Persist(_))).unwrap();
    let apply = actions.iter().position(|a| matches!(a, Action::Apply { .. })).unwrap();
    assert!(persist < apply, "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))));
    persist_all(&mut store, &actions);
    let applied = applies(&actions);
    assert_eq!(applied.len(), 1);
    assert_eq!((applied[0].1.as_slice(), applied[0].2), (&b"create"[..], Some(7)));

    // Restarted from its directory (a new process: another incarnation), it
    // replays the committed command without the old token.
    drop(node);
    let (_store, recovered) = LogStore::open(dir.path()).unwrap();
    let (_node, actions) = QuorumNode::start(QuorumConfig::new(1, vec![1], 2), recovered).unwrap();
    assert_eq!(applies(&actions), [(applied[0].0, b"create".to_vec(), None)]);
}

#[test]
fn proposals_are_rejected_on_followers_and_when_too_large() {
    let (mut node, _) = QuorumNode::start(config(1, &[1, 2, 3]), RecoveredLog::default()).unwrap();
    let actions = node.handle(Event::Propose { data: b"x".to_vec(), token: 3 });
    assert!(matches!(actions[..], [Action::Rejected { token: 3, leader: None, reason: Rejection::NotLeader }]));
    let actions = node.handle(Event::Propose { data: vec![0; MAX_COMMAND_BYTES + 1], token: 4 });
    assert!(matches!(actions[..], [Action::Rejected { token: 4, reason: Rejection::TooLarge, .. }]));
}

#[test]
fn restart_with_other_voters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, recovered) = LogStore::open(dir.path()).unwrap();
    let (_node, actions) = QuorumNode::start(config(1, &[1, 2, 3]), recovered).unwrap();
    persist_all(&mut store, &actions);
    let (_store, recovered) = LogStore::open(dir.path()).unwrap();
    let err = QuorumNode::start(config(1, &[1, 2]), recovered).err().unwrap().to_string();
    assert!(err.contains("membership is static"), "{err}");
}

#[test]
fn snapshot_requests_come_after_the_interval_and_compact_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, recovered) = LogStore::open(dir.path()).unwrap();
    let mut cfg = config(1, &[1]);
    cfg.snapshot_interval = 5;
    let (mut node, actions) = QuorumNode::start(cfg, recovered).unwrap();
    persist_all(&mut store, &actions);
    let mut requested = None;
    for token in 0..10u64 {
        let actions = node.handle(Event::Propose { data: vec![token as u8; 100], token });
        persist_all(&mut store, &actions);
        for a in &actions {
            if let Action::TakeSnapshot { index } = a {
                assert!(requested.is_none(), "asked twice before an answer");
                requested = Some(*index);
            }
        }
    }
    let index = requested.expect("a TakeSnapshot after 5 entries");
    assert!(index >= 5);
    assert!(node.snapshot_taken(index + 100, vec![]).is_err());
    let before = store.entries_file_len();
    let actions = node.snapshot_taken(index, b"state".to_vec()).unwrap();
    persist_all(&mut store, &actions);
    assert!(store.entries_file_len() < before);
    assert_eq!(node.snapshot_index(), index);
    let (_store, recovered) = LogStore::open(dir.path()).unwrap();
    assert_eq!(recovered.snapshot.get_metadata().index, index);
    assert_eq!(&recovered.snapshot.data[..], b"state");
    assert_eq!(recovered.entries.first().map(|e| e.index), Some(index + 1));
}
