//! Making sure the topic exists before a run.

use std::net::SocketAddr;

use corelog_client::{Admin, ClientConfig, ClientError, Cluster};
use corelog_protocol::ErrorCode;

use crate::config::TopicSettings;
use crate::error::{PerfError, PerfResult};
use crate::worker::run_on_executor;

/// What [`ensure`] found or did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicState {
    pub partitions: u32,
    pub created: bool,
    /// A note for the user (e.g. `--partitions` ignored for an existing topic).
    pub note: Option<String>,
}

/// Creates `topic` per `settings` unless it exists (then `--partitions` is
/// only checked). Without `settings.partitions`, a new topic gets one
/// partition per broker core.
pub fn ensure(bootstrap: &[SocketAddr], topic: &str, settings: &TopicSettings) -> PerfResult<TopicState> {
    let (bootstrap, topic, settings) = (bootstrap.to_vec(), topic.to_owned(), settings.clone());
    run_on_executor(move || async move { ensure_async(&bootstrap, &topic, &settings).await })?
}

async fn ensure_async(bootstrap: &[SocketAddr], topic: &str, settings: &TopicSettings) -> PerfResult<TopicState> {
    let client = ClientConfig { client_id: "corelog-perf-setup".into(), ..ClientConfig::default() };
    let cluster = Cluster::connect(bootstrap, client)
        .await
        .map_err(|e| PerfError::from(e).context(&format!("connecting to {}", addrs(bootstrap))))?;
    match cluster.topic_metadata(topic).await {
        Ok(info) => return Ok(existing(info.partition_count(), settings)),
        Err(ClientError::UnknownTopic(_)) => {}
        Err(e) => return Err(PerfError::from(e).context("reading the topic's metadata")),
    }
    let cores: usize = cluster.brokers().iter().map(|b| b.endpoints.len()).sum();
    let partitions = settings.partitions.unwrap_or(cores.max(1) as u32);
    let configs: Vec<(&str, &str)> = settings.configs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match Admin::new(&cluster).create_topic(topic, partitions, &configs).await {
        Ok(()) => Ok(TopicState { partitions, created: true, note: None }),
        Err(ClientError::Broker { code: ErrorCode::TopicAlreadyExists, .. }) => {
            let info = cluster.topic_metadata(topic).await?;
            Ok(existing(info.partition_count(), settings))
        }
        Err(e) => Err(PerfError::from(e).context(&format!("creating topic {topic:?}"))),
    }
}

fn existing(partitions: u32, settings: &TopicSettings) -> TopicState {
    let note = match settings.partitions {
        Some(asked) if asked != partitions => {
            Some(format!("the topic exists with {partitions} partitions; --partitions {asked} ignored"))
        }
        _ => None,
    };
    TopicState { partitions, created: false, note }
}

fn addrs(bootstrap: &[SocketAddr]) -> String {
    bootstrap.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",")
}
