//! [`Admin`]'s cluster operations: describing the brokers and the controller
//! quorum, and electing partition leaders. Any core of any broker answers.
//!
//! Lives on: the core that created the `Admin` (`!Send`).

use super::admin::{wrong_api, Admin};
use super::error::{check_code, ClientResult};
use corelog_protocol::{
    DescribeClusterRequest, DescribeClusterResponse, ElectLeadersRequest, ElectTopic, ElectTopicResult, ElectionKind,
    Request, Response,
};

impl Admin {
    /// The registered brokers (fenced or not), the controller quorum's voters
    /// and its leader, as the answering broker knows them.
    pub async fn describe_cluster(&self) -> ClientResult<DescribeClusterResponse> {
        let request = Request::DescribeCluster(DescribeClusterRequest {});
        let Response::DescribeCluster(resp) = self.cluster().request_any(&request).await? else {
            return Err(wrong_api("describe cluster"));
        };
        check_code(resp.error, resp.error_message.clone())?;
        Ok(resp)
    }

    /// Elects leaders for `partitions` (`None`: every partition), returning
    /// the outcome per partition: `ElectionNotNeeded` where the preferred
    /// replica already leads. The metadata cache is refreshed afterwards.
    pub async fn elect_leaders(
        &self,
        kind: ElectionKind,
        partitions: Option<Vec<(String, Vec<u32>)>>,
    ) -> ClientResult<Vec<ElectTopicResult>> {
        let topics =
            partitions.map(|ps| ps.into_iter().map(|(name, partitions)| ElectTopic { name, partitions }).collect());
        let request = Request::ElectLeaders(ElectLeadersRequest { kind, topics });
        let Response::ElectLeaders(resp) = self.cluster().request_any(&request).await? else {
            return Err(wrong_api("elect leaders"));
        };
        check_code(resp.error, resp.error_message)?;
        let _ = self.cluster().refresh().await;
        Ok(resp.topics)
    }
}
