//! One outgoing connection per other controller, carrying RaftMessage
//! requests. Best effort, as raft wants: a bounded queue per peer (a full
//! queue drops the message), reconnect with backoff, and the outcomes raft
//! must hear: `Event::Unreachable` when a peer cannot be reached or a write
//! fails, `Event::SnapshotReport` for every `MsgSnapshot` (delivered once
//! its frame is written; not delivered when it is dropped or the write fails).
//!
//! The peer's RaftMessage answers are read and only logged when they carry
//! an error: raft does not wait for them.
//!
//! Lives on: core 0 of a controller node (one task per peer).

use std::collections::HashMap;

use futures::channel::{mpsc, oneshot};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};

use corelog_protocol::{decode_response, encode_request, FrameDecoder, RaftMessageRequest, Request, Response};
use corelog_replication::controller::eraftpb::{Message, MessageType};
use corelog_replication::controller::{codec, Event};
use corelog_runtime::{Task, TcpStream};

use super::config::ControllerPeer;
use crate::limits::{
    CONTROLLER_CONNECT_TIMEOUT, CONTROLLER_READ_BYTES, MAX_CONTROLLER_FRAME_BYTES, PEER_LINK_QUEUE_MESSAGES,
    PEER_RECONNECT_BACKOFF_MAX, PEER_RECONNECT_BACKOFF_MIN,
};

/// The links of one controller to its peers, by raft id. Dropping it stops
/// every link task.
pub(super) struct PeerLinks {
    queues: HashMap<u64, mpsc::Sender<Message>>,
    events: mpsc::UnboundedSender<Event>,
    _tasks: Vec<Task<()>>,
}

impl PeerLinks {
    pub fn start(own_node_id: u32, peers: &[ControllerPeer], events: mpsc::UnboundedSender<Event>) -> PeerLinks {
        let mut queues = HashMap::new();
        let mut tasks = Vec::new();
        for peer in peers.iter().filter(|p| p.node_id != own_node_id) {
            let (tx, rx) = mpsc::channel(PEER_LINK_QUEUE_MESSAGES);
            queues.insert(peer.raft_id(), tx);
            tasks.push(corelog_runtime::spawn(run_link(peer.clone(), rx, events.clone())));
        }
        PeerLinks { queues, events, _tasks: tasks }
    }

    /// Queues `message` for its `to` peer; dropped when the queue is full.
    pub fn send(&mut self, message: Message) {
        let to = message.to;
        let snapshot = message.get_msg_type() == MessageType::MsgSnapshot;
        let Some(queue) = self.queues.get_mut(&to) else {
            tracing::warn!(to, "raft message for an unknown peer dropped");
            return;
        };
        if queue.try_send(message).is_err() {
            tracing::debug!(to, "peer link queue full; raft message dropped");
            let _ = self.events.unbounded_send(Event::Unreachable { peer: to });
            if snapshot {
                let _ = self.events.unbounded_send(Event::SnapshotReport { peer: to, delivered: false });
            }
        }
    }
}

fn report_lost(events: &mpsc::UnboundedSender<Event>, peer: u64, message: &Message) {
    if message.get_msg_type() == MessageType::MsgSnapshot {
        let _ = events.unbounded_send(Event::SnapshotReport { peer, delivered: false });
    }
}

async fn run_link(peer: ControllerPeer, mut queue: mpsc::Receiver<Message>, events: mpsc::UnboundedSender<Event>) {
    let raft_id = peer.raft_id();
    let mut backoff = PEER_RECONNECT_BACKOFF_MIN;
    let mut correlation_id = 0u32;
    loop {
        let stream = match peer.addr() {
            Ok(addr) => corelog_runtime::timeout(CONTROLLER_CONNECT_TIMEOUT, TcpStream::connect(addr)).await,
            Err(e) => Some(Err(e)),
        };
        let stream = match stream {
            Some(Ok(stream)) => stream,
            failed => {
                if let Some(Err(e)) = failed {
                    tracing::debug!(peer = peer.node_id, error = %e, "cannot connect to controller peer");
                }
                let _ = events.unbounded_send(Event::Unreachable { peer: raft_id });
                // What waited meanwhile is stale: raft resends.
                while let Ok(m) = queue.try_recv() {
                    report_lost(&events, raft_id, &m);
                }
                corelog_runtime::sleep(backoff).await;
                backoff = (backoff * 2).min(PEER_RECONNECT_BACKOFF_MAX);
                continue;
            }
        };
        backoff = PEER_RECONNECT_BACKOFF_MIN;
        let (reader, mut writer) = stream.split();
        let (closed_tx, mut closed) = oneshot::channel::<()>();
        let _answers = corelog_runtime::spawn(read_answers(reader, peer.node_id, closed_tx));
        loop {
            let next = futures::future::select(queue.next(), &mut closed).await;
            let message = match next {
                futures::future::Either::Left((Some(m), _)) => m,
                // The controller stopped: the link goes with it.
                futures::future::Either::Left((None, _)) => return,
                futures::future::Either::Right(_) => break,
            };
            let frame = match codec::encode(&message).map_err(|e| e.to_string()).and_then(|bytes| {
                correlation_id = correlation_id.wrapping_add(1);
                let request = Request::RaftMessage(RaftMessageRequest { message: bytes });
                encode_request(correlation_id, &request).map_err(|e| e.to_string())
            }) {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::error!(peer = peer.node_id, error = %e, "cannot encode a raft message; dropped");
                    report_lost(&events, raft_id, &message);
                    continue;
                }
            };
            let written = async {
                writer.write_all(&frame.head).await?;
                for chunk in &frame.data {
                    writer.write_all(chunk).await?;
                }
                writer.flush().await
            };
            match written.await {
                Ok(()) => {
                    if message.get_msg_type() == MessageType::MsgSnapshot {
                        let _ = events.unbounded_send(Event::SnapshotReport { peer: raft_id, delivered: true });
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = peer.node_id, error = %e, "write to controller peer failed");
                    report_lost(&events, raft_id, &message);
                    break;
                }
            }
        }
        let _ = events.unbounded_send(Event::Unreachable { peer: raft_id });
        corelog_runtime::sleep(backoff).await;
    }
}

/// Reads the peer's RaftMessage answers; signals `closed` when the
/// connection ends or is out of frame.
async fn read_answers(mut reader: futures::io::ReadHalf<TcpStream>, peer: u32, closed: oneshot::Sender<()>) {
    let mut decoder = FrameDecoder::with_max_frame_len(MAX_CONTROLLER_FRAME_BYTES);
    let mut buf = vec![0u8; CONTROLLER_READ_BYTES];
    'read: loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => decoder.feed(&buf[..n]),
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => match decode_response(&frame) {
                    Ok(Response::RaftMessage(r)) if r.error.is_ok() => {}
                    Ok(other) => tracing::warn!(peer, error = ?other.error(), "controller peer refused a raft message"),
                    Err(e) => tracing::warn!(peer, error = %e, "undecodable answer from controller peer"),
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer, error = %e, "controller peer's answers out of frame");
                    break 'read;
                }
            }
        }
    }
    let _ = closed.send(());
}
