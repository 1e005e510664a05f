# Golden frames for corelog-kafka-protocol, produced with kafka-python 3.0.12.
import struct
from kafka.protocol.old.api import RequestHeader as OldHeader, RequestHeaderV2 as OldHeaderV2
import kafka.protocol.old.metadata as om, kafka.protocol.old.produce as op, kafka.protocol.old.fetch as of
import kafka.protocol.old.group as og, kafka.protocol.old.commit as oc, kafka.protocol.old.api_versions as oa

def old_frame(req, corr, client, flexible=False):
    H = OldHeaderV2 if flexible else OldHeader
    kw = dict(api_key=req.API_KEY, api_version=req.API_VERSION, correlation_id=corr, client_id=client)
    if flexible: kw['tags'] = {}
    body = H(**kw).encode() + req.encode()
    return struct.pack('>i', len(body)) + body

out = {}
out['api_versions_v3'] = old_frame(oa.ApiVersionsRequest[3](client_software_name='kcat', client_software_version='1.7.0', tags={}), 7, 'rdkafka', True)
out['metadata_v1'] = old_frame(om.MetadataRequest[1](topics=['t']), 2, 'kafka-python')
out['produce_v3'] = old_frame(op.ProduceRequest[3](transactional_id=None, required_acks=-1, timeout=1500,
    topics=[('t', [(0, b'RECORDS')])]), 3, 'p')
out['fetch_v4'] = old_frame(of.FetchRequest[4](replica_id=-1, max_wait_time=500, min_bytes=1, max_bytes=1048576, isolation_level=1,
    topics=[('t', [(0, 42, 65536)])]), 4, 'c')
out['join_group_v5'] = old_frame(og.JoinGroupRequest[5](group_id='g', session_timeout_ms=10000, rebalance_timeout_ms=30000, member_id='',
    group_instance_id=None, protocol_type='consumer', protocols=[('range', b'\x00\x01')]), 5, 'c')
out['offset_commit_v7'] = old_frame(oc.OffsetCommitRequest[7](group_id='g', generation_id_or_member_epoch=3, member_id='m-1', group_instance_id=None,
    topics=[('t', [(0, 100, -1, 'meta')])]), 6, 'c')

# Flexible versions the hand-written (old) classes lack: kafka-python's
# JSON-schema-driven classes.
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.producer import ProduceRequest
from kafka.protocol.consumer import FetchRequest

def new_frame(msg, version, corr, client):
    msg.with_header(correlation_id=corr, client_id=client)
    return bytes(msg.encode(version=version, header=True, framed=True))

out['metadata_v12'] = new_frame(MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(topic_id=None, name='t')], allow_auto_topic_creation=False,
    include_topic_authorized_operations=True), 12, 8, 'rdkafka')
out['produce_v9'] = new_frame(ProduceRequest(transactional_id='tx', acks=1, timeout_ms=30000,
    topic_data=[ProduceRequest.TopicProduceData(name='t', partition_data=[ProduceRequest.TopicProduceData.PartitionProduceData(index=1, records=b'RECORDS')])]), 9, 9, 'p')
out['fetch_v12'] = new_frame(FetchRequest(replica_id=-1, max_wait_ms=500, min_bytes=1, max_bytes=52428800, isolation_level=0,
    session_id=0, session_epoch=-1,
    topics=[FetchRequest.FetchTopic(topic='t', partitions=[FetchRequest.FetchTopic.FetchPartition(partition=0, current_leader_epoch=5, fetch_offset=42, last_fetched_epoch=-1,
        log_start_offset=-1, partition_max_bytes=1048576)])], forgotten_topics_data=[], rack_id=''), 12, 10, 'c')
for k, v in out.items():
    print(k, v.hex())

# Responses (size | header v0 | body), hand-written classes.
from kafka.protocol.old.api import ResponseHeader as OldRespHeader
def old_resp(resp, corr):
    body = OldRespHeader(correlation_id=corr).encode() + resp.encode()
    return struct.pack('>i', len(body)) + body
out2 = {}
# corelog's SUPPORTED_APIS, in its order.
SUPPORTED = [(0,0,9),(1,4,12),(2,1,7),(3,0,12),(8,2,7),(9,1,7),(10,0,3),(11,0,5),(12,0,3),(13,0,3),(14,0,3),(15,0,5),
    (16,0,4),(18,0,3),(19,2,5),(20,1,5),(22,0,4),(23,2,4),(32,1,2),(37,0,3),(42,0,2),(44,0,1),(60,0,1)]
# Tag 1 = FinalizedFeaturesEpoch (known), tag 9 = unknown (skipped).
out2['api_versions_response_v3'] = old_resp(oa.ApiVersionsResponse[3](error_code=0,
    api_keys=[(0, 0, 9, {}), (18, 0, 3, {})], throttle_time_ms=0, tags={1: struct.pack('>q', 5), 9: b'\xab'}), 7)
out2['unsupported_version_reply'] = old_resp(oa.ApiVersionsResponse[0](error_code=35, api_versions=SUPPORTED), 11)
for k, v in out2.items():
    print(k, v.hex())

# Responses of Metadata v1 (hand-written class), Metadata v12, Produce v9
# and Fetch v12 (JSON-schema-driven classes).
import kafka.protocol.old.metadata as om
from kafka.protocol.metadata import MetadataResponse as MR
from kafka.protocol.producer import ProduceResponse as PR
from kafka.protocol.consumer import FetchResponse as FR

def old_resp(resp, corr):
    body = OldRespHeader(correlation_id=corr).encode() + resp.encode()
    return struct.pack('>i', len(body)) + body

# kafka-python 3.0.12 fails to encode a response together with its header
# (ResponseHeader has no request_api_version), so its body is framed here with
# response header v1: correlation_id i32 | empty tagged fields.
def new_resp(msg, version, corr):
    body = struct.pack('>i', corr) + b'\x00' + bytes(msg.encode(version=version))
    return struct.pack('>i', len(body)) + body

print('metadata_response_v1', old_resp(om.MetadataResponse[1](brokers=[(1, 'h', 9092, None)], controller_id=1,
    topics=[(0, 't', False, [(0, 0, 1, [1], [1])])]), 2).hex())
print('metadata_response_v12', new_resp(MR(throttle_time_ms=0,
    brokers=[MR.MetadataResponseBroker(node_id=1, host='h', port=9092, rack=None)], cluster_id='c', controller_id=1,
    topics=[MR.MetadataResponseTopic(error_code=0, name='t', topic_id=None, is_internal=False,
        partitions=[MR.MetadataResponseTopic.MetadataResponsePartition(error_code=0, partition_index=0, leader_id=1, leader_epoch=3,
            replica_nodes=[1], isr_nodes=[1], offline_replicas=[])])]), 12, 8).hex())
P = PR.TopicProduceResponse.PartitionProduceResponse
print('produce_response_v9', new_resp(PR(responses=[PR.TopicProduceResponse(name='t',
    partition_responses=[P(index=0, error_code=0, base_offset=5, log_append_time_ms=-1, log_start_offset=0, record_errors=[], error_message=None)])],
    throttle_time_ms=0), 9, 9).hex())
D = FR.FetchableTopicResponse.PartitionData
print('fetch_response_v12', new_resp(FR(throttle_time_ms=0, error_code=0, session_id=0,
    responses=[FR.FetchableTopicResponse(topic='t', partitions=[D(partition_index=0, error_code=0, high_watermark=10,
        last_stable_offset=10, log_start_offset=0, diverging_epoch=D.EpochEndOffset(epoch=2, end_offset=7),
        aborted_transactions=None, preferred_read_replica=-1, records=b'RECS')])]), 12, 10).hex())
