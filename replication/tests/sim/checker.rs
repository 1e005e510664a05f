//! The invariants, checked after every simulation step. Each check returns
//! what broke; the simulation turns that into a failure naming the seed.

use std::collections::HashMap;

use corelog_replication::replica::ReplicaId;

use super::log::{Log, Record};

#[derive(Default)]
pub struct Checker {
    /// Every offset any leader's high watermark has passed, with its record:
    /// the one history all replicas must agree with below their HW.
    pub committed: Vec<Record>,
    /// One past the last acknowledged offset.
    pub acked_end: u64,
    leader_of_epoch: HashMap<u32, ReplicaId>,
    /// Last high watermark of each leadership (node, incarnation, epoch).
    leader_hw: HashMap<(ReplicaId, u64, u32), u64>,
}

impl Checker {
    /// At most one leader per epoch, and a new leader holds every
    /// acknowledged record.
    pub fn on_become_leader(&mut self, node: ReplicaId, epoch: u32, log: &mut Log) -> Result<(), String> {
        if let Some(other) = self.leader_of_epoch.insert(epoch, node) {
            if other != node {
                return Err(format!("epoch {epoch} has two leaders: {other} and {node}"));
            }
        }
        self.extend_agreement(log);
        if log.agree < self.acked_end {
            return Err(format!(
                "new leader {node} of epoch {epoch} agrees with the committed history only below {} but records below {} were acknowledged",
                log.agree, self.acked_end
            ));
        }
        Ok(())
    }

    /// A leader's high watermark never goes back, and what it passes joins
    /// the committed history.
    pub fn on_leader_hw(
        &mut self,
        node: ReplicaId,
        incarnation: u64,
        epoch: u32,
        hw: u64,
        log: &mut Log,
    ) -> Result<(), String> {
        let last = self.leader_hw.entry((node, incarnation, epoch)).or_insert(0);
        if hw < *last {
            return Err(format!("leader {node} of epoch {epoch}: high watermark went back from {last} to {hw}"));
        }
        *last = hw;
        if hw > log.end() {
            return Err(format!("leader {node}: high watermark {hw} past its log end {}", log.end()));
        }
        let known = self.committed.len() as u64;
        for offset in known..hw {
            self.committed.push(log.records[offset as usize]);
        }
        self.check_log(node, log, hw)
    }

    /// An acknowledged record is committed, at its offset.
    pub fn on_ack(&mut self, records: &[(u64, u64)]) -> Result<(), String> {
        for &(offset, payload) in records {
            match self.committed.get(offset as usize) {
                Some(r) if r.payload == payload => {}
                other => {
                    return Err(format!("acknowledged payload {payload} at {offset}, committed there: {other:?}"));
                }
            }
            self.acked_end = self.acked_end.max(offset + 1);
        }
        Ok(())
    }

    /// Below its high watermark a replica's log is the committed history.
    pub fn check_log(&mut self, node: ReplicaId, log: &mut Log, hw: u64) -> Result<(), String> {
        self.extend_agreement(log);
        if log.agree < hw {
            let at = log.agree as usize;
            return Err(format!(
                "replica {node} has high watermark {hw} but differs from the committed history at {at}: {:?} vs {:?}",
                log.records.get(at),
                self.committed.get(at)
            ));
        }
        Ok(())
    }

    /// An ISR member (running or crashed: its disk counts) holds every
    /// acknowledged record at its offset.
    pub fn check_isr_member(&mut self, node: ReplicaId, log: &mut Log) -> Result<(), String> {
        self.extend_agreement(log);
        if log.agree < self.acked_end {
            let at = log.agree as usize;
            return Err(format!(
                "ISR member {node} lacks acknowledged records: agrees below {at} of {} (has {:?}, committed {:?})",
                self.acked_end,
                log.records.get(at),
                self.committed.get(at)
            ));
        }
        Ok(())
    }

    fn extend_agreement(&self, log: &mut Log) {
        let limit = log.end().min(self.committed.len() as u64);
        while log.agree < limit && log.records[log.agree as usize] == self.committed[log.agree as usize] {
            log.agree += 1;
        }
    }
}
