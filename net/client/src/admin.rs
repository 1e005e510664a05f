//! [`Admin`]: topic administration, configs, metadata and offsets.
//!
//! Administrative requests may go to any core; offset lookups go to the
//! partition's owner. Admin operations are not retried after a connection
//! failure (a create that reached the broker would then fail with
//! `TopicAlreadyExists`); errors are returned as they are.
//!
//! Lives on: the core that created it (`!Send`).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::error::{check_code, ClientError, ClientResult};
use super::metadata::{Cluster, TopicInfo};
use super::offsets::{list_offsets, ListedOffset};
use super::ClientConfig;
use corelog_protocol::{
    AlterConfigOp, AlterConfigsRequest, AlterTopicConfigs, ConfigEntry, CreatableTopic, CreatePartitionsRequest,
    CreatePartitionsTopic, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest, DescribedConfig,
    OffsetSpec, Request, Response, TopicResult,
};

/// Administrative client.
///
/// ```no_run
/// use corelog_client::{Admin, ClientConfig, Cluster, OffsetSpec};
///
/// # async fn demo() -> Result<(), corelog_client::ClientError> {
/// let admin = Admin::connect(&["127.0.0.1:9192".parse().unwrap()], ClientConfig::default()).await?;
/// admin.create_topic("orders", 6, &[("retention.ms", "86400000")]).await?;
/// admin.alter_configs("orders", &[("flush.policy", Some("1000"))]).await?;
/// let end = admin.list_offsets("orders", 0, OffsetSpec::Latest).await?;
/// println!("partition 0 ends at {:?}", end.offset);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Admin {
    cluster: Cluster,
    /// How long the broker may take to apply a change.
    timeout: Duration,
}

impl Admin {
    /// An admin client for the cluster reached through `bootstrap`.
    pub async fn connect(bootstrap: &[SocketAddr], config: ClientConfig) -> ClientResult<Admin> {
        Ok(Admin::new(&Cluster::connect(bootstrap, config).await?))
    }

    /// An admin client sharing `cluster`'s metadata and connections.
    pub fn new(cluster: &Cluster) -> Admin {
        Admin { cluster: cluster.clone(), timeout: cluster.config().request_timeout }
    }

    /// The cluster handle this client uses.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Creates `name` with `partitions` partitions and config overrides, and
    /// loads its metadata into the cache.
    pub async fn create_topic(&self, name: &str, partitions: u32, configs: &[(&str, &str)]) -> ClientResult<()> {
        self.create_replicated_topic(name, partitions, 1, configs).await
    }

    /// [`Self::create_topic`] with `replication_factor` replicas of every
    /// partition, on distinct brokers.
    pub async fn create_replicated_topic(
        &self,
        name: &str,
        partitions: u32,
        replication_factor: u16,
        configs: &[(&str, &str)],
    ) -> ClientResult<()> {
        let request = Request::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.to_owned(),
                partitions,
                replication_factor,
                configs: configs.iter().map(|(k, v)| ConfigEntry::new(*k, *v)).collect(),
            }],
            timeout_ms: self.timeout_ms(),
            validate_only: false,
        });
        let Response::CreateTopics(resp) = self.cluster.request_any(&request).await? else {
            return Err(wrong_api("create topics"));
        };
        check_code(resp.error, resp.error_message)?;
        topic_result(resp.topics, name)?;
        let _ = self.cluster.refresh_topics(&[name]).await;
        Ok(())
    }

    /// Deletes `name`.
    pub async fn delete_topic(&self, name: &str) -> ClientResult<()> {
        let request =
            Request::DeleteTopics(DeleteTopicsRequest { topics: vec![name.to_owned()], timeout_ms: self.timeout_ms() });
        let Response::DeleteTopics(resp) = self.cluster.request_any(&request).await? else {
            return Err(wrong_api("delete topics"));
        };
        check_code(resp.error, resp.error_message)?;
        topic_result(resp.topics, name)?;
        self.cluster.forget_topic(name);
        Ok(())
    }

    /// Raises the partition count of `name` to `new_total`.
    pub async fn create_partitions(&self, name: &str, new_total: u32) -> ClientResult<()> {
        let request = Request::CreatePartitions(CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic { name: name.to_owned(), new_total }],
            timeout_ms: self.timeout_ms(),
            validate_only: false,
        });
        let Response::CreatePartitions(resp) = self.cluster.request_any(&request).await? else {
            return Err(wrong_api("create partitions"));
        };
        check_code(resp.error, resp.error_message)?;
        topic_result(resp.topics, name)?;
        let _ = self.cluster.refresh_topics(&[name]).await;
        Ok(())
    }

    /// Every config of `name`, defaults included.
    pub async fn describe_configs(&self, name: &str) -> ClientResult<Vec<DescribedConfig>> {
        let request = Request::DescribeConfigs(DescribeConfigsRequest { topics: vec![name.to_owned()] });
        let Response::DescribeConfigs(resp) = self.cluster.request_any(&request).await? else {
            return Err(wrong_api("describe configs"));
        };
        check_code(resp.error, resp.error_message)?;
        let topic = resp
            .topics
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ClientError::Protocol(format!("no configs answer for topic {name:?}")))?;
        if !topic.error.is_ok() {
            return Err(ClientError::for_topic(topic.error, topic.error_message, name));
        }
        Ok(topic.configs)
    }

    /// Changes configs of `name`: `Some(value)` sets a key, `None` removes
    /// the topic's override. Keys not mentioned keep their values; the
    /// changes apply together or not at all.
    pub async fn alter_configs(&self, name: &str, ops: &[(&str, Option<&str>)]) -> ClientResult<()> {
        let request = Request::AlterConfigs(AlterConfigsRequest {
            topics: vec![AlterTopicConfigs {
                name: name.to_owned(),
                ops: ops
                    .iter()
                    .map(|(k, v)| AlterConfigOp { key: (*k).to_owned(), value: v.map(str::to_owned) })
                    .collect(),
            }],
            validate_only: false,
        });
        let Response::AlterConfigs(resp) = self.cluster.request_any(&request).await? else {
            return Err(wrong_api("alter configs"));
        };
        check_code(resp.error, resp.error_message)?;
        topic_result(resp.topics, name)
    }

    /// The names of every topic, sorted (refreshes the metadata cache).
    pub async fn list_topics(&self) -> ClientResult<Vec<String>> {
        self.cluster.refresh().await?;
        Ok(self.cluster.topics().iter().map(|t| t.name.clone()).collect())
    }

    /// Fresh metadata of `name`: partitions and their owning endpoints.
    pub async fn describe_topic(&self, name: &str) -> ClientResult<Rc<TopicInfo>> {
        self.cluster.refresh_topics(&[name]).await?;
        self.cluster.topic(name).ok_or_else(|| ClientError::UnknownTopic(name.to_owned()))
    }

    /// Looks up an offset of one partition at its owning core.
    pub async fn list_offsets(&self, topic: &str, partition: u32, spec: OffsetSpec) -> ClientResult<ListedOffset> {
        let backoff = self.cluster.config().retry_backoff;
        let found = list_offsets(&self.cluster, topic, &[(partition, spec)], 10, backoff).await?;
        found
            .get(&partition)
            .copied()
            .ok_or_else(|| ClientError::Protocol(format!("no offset for partition {partition} of {topic:?}")))
    }

    fn timeout_ms(&self) -> u32 {
        u32::try_from(self.timeout.as_millis()).unwrap_or(u32::MAX)
    }
}

pub(crate) fn wrong_api(what: &str) -> ClientError {
    ClientError::Protocol(format!("{what} answered with another api"))
}

/// The outcome for `name` among per-topic results.
fn topic_result(results: Vec<TopicResult>, name: &str) -> ClientResult<()> {
    let result = results
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ClientError::Protocol(format!("no answer for topic {name:?}")))?;
    if result.error.is_ok() {
        Ok(())
    } else {
        Err(ClientError::for_topic(result.error, result.error_message, name))
    }
}
