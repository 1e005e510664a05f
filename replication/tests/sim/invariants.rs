//! The whole-cluster checks: after every step (the metadata's own rules,
//! the controller's epochs, the ISR and leaders against every replica's log)
//! and once the faults have stopped (the partition healed).

use corelog_replication::metadata::cluster::PartitionAssignment;

use super::cluster::{Role, Sim, REPLICAS};

impl Sim {
    pub(super) fn check_invariants(&mut self) {
        if let Err(e) = self.controller.metadata.check_invariants() {
            self.fail(format!("cluster metadata broke an invariant: {e}"));
        }
        let state = self.controller.partition().clone();
        if let Some(leader) = state.leader {
            if !state.isr.contains(&leader) {
                self.fail(format!("controller's ISR {:?} lacks its leader {leader}", state.isr));
            }
        }
        self.check_assignment_moves_forward(&state);
        // A fenced broker leads nothing and stays in the ISR only as the
        // last member of an offline partition (KIP-841).
        for &r in &state.isr {
            if self.controller.fenced(r) && (state.leader.is_some() || state.isr.len() > 1) {
                self.fail(format!("fenced broker {r} in the ISR of {state:?}"));
            }
        }
        if let Some(leader) = state.leader.filter(|l| self.controller.fenced(*l)) {
            self.fail(format!("fenced broker {leader} leads {state:?}"));
        }
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            let (hw, leader_check) = match &node.role {
                Role::Leader(l) => (l.high_watermark(), Some((l.isr(), l.leader_epoch(), l.high_watermark()))),
                Role::Follower(f) => (f.high_watermark(), None),
                Role::None => (node.hw_checkpoint.min(node.log.end()), None),
            };
            let (id, incarnation) = (node.id, node.incarnation);
            if let Err(e) = self.checker.check_log(id, &mut self.nodes[i].log, hw) {
                self.fail(e);
            }
            if let Some((isr, epoch, hw)) = leader_check {
                if !isr.contains(&id) {
                    self.fail(format!("leader {id}'s ISR {isr:?} lacks itself"));
                }
                if let Err(e) = self.checker.on_leader_hw(id, incarnation, epoch, hw, &mut self.nodes[i].log) {
                    self.fail(e);
                }
            }
        }
        for &member in &state.isr {
            if let Err(e) = self.checker.check_isr_member(member, &mut self.nodes[(member - 1) as usize].log) {
                self.fail(e);
            }
        }
    }

    /// The controller's epochs never go back, every change of the
    /// assignment bumps the partition epoch and every leader change the
    /// leader epoch: what fences stale leaders and stale ISR proposals.
    fn check_assignment_moves_forward(&mut self, now: &PartitionAssignment) {
        let before = &self.last_assignment;
        if now == before {
            return;
        }
        if now.leader_epoch < before.leader_epoch || now.partition_epoch <= before.partition_epoch {
            self.fail(format!("assignment {before:?} became {now:?} without moving its epochs forward"));
        }
        if now.leader != before.leader && now.leader_epoch == before.leader_epoch {
            self.fail(format!("leader changed at the same leader epoch: {before:?} became {now:?}"));
        }
        self.last_assignment = now.clone();
    }

    /// After the faults stop and producing pauses, the partition must be
    /// whole again: a leader, every replica in the ISR, identical logs, and
    /// records acknowledged after the faults stopped.
    pub(super) fn check_converged(&mut self) {
        let state = self.controller.partition().clone();
        let Some(leader) = state.leader else { self.fail(format!("no leader after healing: {state:?}")) };
        if state.isr.len() != REPLICAS.len() {
            self.fail(format!("ISR not whole after healing: {state:?}"));
        }
        let (leader_hw, leader_records) = match &self.node(leader).role {
            Role::Leader(l) if l.leader_epoch() == state.leader_epoch => {
                (l.high_watermark(), self.node(leader).log.records.clone())
            }
            _ => self.fail(format!("controller's leader {leader} is not leading epoch {}", state.leader_epoch)),
        };
        if leader_hw != leader_records.len() as u64 {
            self.fail(format!("leader HW {leader_hw} below its log end {} after healing", leader_records.len()));
        }
        for &id in &REPLICAS {
            if self.node(id).log.records != leader_records {
                self.fail(format!("replica {id}'s log differs from leader {leader}'s after healing"));
            }
        }
        if self.stats.acked_after_heal == 0 {
            self.fail("nothing acknowledged after the faults stopped".to_string());
        }
    }
}
