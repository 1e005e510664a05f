//! The admin client against a real broker: topic and config round trips,
//! metadata, offsets, and the errors the broker answers with.

mod support;

use std::time::Duration;

use corelog_client::*;
use corelog_protocol::ErrorCode;
use support::{run_client, TestBroker};

const LIMIT: Duration = Duration::from_secs(60);

fn config_value(configs: &[corelog_protocol::DescribedConfig], key: &str) -> (String, bool) {
    let c = configs.iter().find(|c| c.key == key).unwrap_or_else(|| panic!("no config {key}"));
    (c.value.clone(), c.is_default)
}

#[test]
fn admin_round_trips() {
    let broker = TestBroker::start(1);
    let bootstrap = broker.endpoints();
    run_client(LIMIT, async move {
        let admin = Admin::connect(&bootstrap, ClientConfig::default()).await.unwrap();
        admin.create_topic("orders", 3, &[("retention.ms", "86400000")]).await.unwrap();
        let dup = admin.create_topic("orders", 3, &[]).await.unwrap_err();
        assert_eq!(dup.code(), Some(ErrorCode::TopicAlreadyExists), "{dup}");
        assert!(!dup.is_retriable());
        let bad = admin.create_topic("bad/name", 1, &[]).await.unwrap_err();
        assert_eq!(bad.code(), Some(ErrorCode::InvalidTopicName), "{bad}");
        let bad = admin.create_topic("zero", 0, &[]).await.unwrap_err();
        assert_eq!(bad.code(), Some(ErrorCode::InvalidPartitions), "{bad}");
        let bad = admin.create_topic("cfg", 1, &[("no.such.key", "1")]).await.unwrap_err();
        assert_eq!(bad.code(), Some(ErrorCode::InvalidConfig), "{bad}");

        assert!(admin.cluster().topic("orders").is_some(), "create loads the metadata");
        let configs = admin.describe_configs("orders").await.unwrap();
        assert_eq!(config_value(&configs, "retention.ms"), ("86400000".into(), false));
        assert!(config_value(&configs, "segment.bytes").1, "untouched keys are defaults");

        admin.alter_configs("orders", &[("flush.policy", Some("1000")), ("retention.ms", None)]).await.unwrap();
        let configs = admin.describe_configs("orders").await.unwrap();
        assert_eq!(config_value(&configs, "flush.policy"), ("1000".into(), false));
        assert!(config_value(&configs, "retention.ms").1, "override removed");
        let bad = admin.alter_configs("orders", &[("segment.bytes", Some("lots"))]).await.unwrap_err();
        assert_eq!(bad.code(), Some(ErrorCode::InvalidConfig), "{bad}");
        let missing = admin.describe_configs("nope").await.unwrap_err();
        assert!(matches!(missing, ClientError::UnknownTopic(_)), "{missing}");

        admin.create_partitions("orders", 5).await.unwrap();
        let topic = admin.describe_topic("orders").await.unwrap();
        assert_eq!(topic.partition_count(), 5);
        assert!(topic.partitions.iter().all(|p| p.addr == Some(bootstrap[0])), "one core owns everything");
        let shrink = admin.create_partitions("orders", 2).await.unwrap_err();
        assert_eq!(shrink.code(), Some(ErrorCode::InvalidPartitions), "{shrink}");

        admin.create_topic("audit", 1, &[]).await.unwrap();
        assert_eq!(admin.list_topics().await.unwrap(), vec!["audit".to_owned(), "orders".to_owned()]);

        // Offsets: empty, then after three records.
        let earliest = admin.list_offsets("orders", 4, OffsetSpec::Earliest).await.unwrap();
        let latest = admin.list_offsets("orders", 4, OffsetSpec::Latest).await.unwrap();
        assert_eq!((earliest.offset, latest.offset), (Some(0), Some(0)));
        let producer = Producer::new(admin.cluster(), ProducerConfig::default());
        for ts in [100, 200, 300] {
            producer.send(ProducerRecord::new("orders", "x").partition(4).timestamp(ts)).await.unwrap();
        }
        let latest = admin.list_offsets("orders", 4, OffsetSpec::Latest).await.unwrap();
        assert_eq!(latest.offset, Some(3));
        let by_time = admin.list_offsets("orders", 4, OffsetSpec::Timestamp(150)).await.unwrap();
        assert_eq!((by_time.offset, by_time.timestamp), (Some(1), Some(200)));
        let none = admin.list_offsets("orders", 4, OffsetSpec::Timestamp(10_000)).await.unwrap();
        assert_eq!(none.offset, None);
        let bad = admin.list_offsets("orders", 9, OffsetSpec::Latest).await.unwrap_err();
        assert!(matches!(bad, ClientError::UnknownPartition { partition: 9, .. }), "{bad}");

        admin.delete_topic("orders").await.unwrap();
        assert_eq!(admin.list_topics().await.unwrap(), vec!["audit".to_owned()]);
        let gone = admin.delete_topic("orders").await.unwrap_err();
        assert!(matches!(gone, ClientError::UnknownTopic(_)), "{gone}");
        assert!(matches!(admin.describe_topic("orders").await, Err(ClientError::UnknownTopic(_))));
    });
}

#[test]
fn connection_pipelines_requests() {
    let broker = TestBroker::start(1);
    let addr = broker.endpoints()[0];
    run_client(LIMIT, async move {
        use corelog_protocol::{MetadataRequest, Request, Response};
        let config = ClientConfig { max_in_flight: 8, ..ClientConfig::default() };
        let conn = Connection::connect(addr, &config).await.unwrap();
        assert_eq!(conn.api_versions().map(|v| v.node_id), Some(0));
        // Many requests at once over one connection, answered to the right caller.
        let requests: Vec<Request> =
            (0..100).map(|i| Request::Metadata(MetadataRequest { topics: Some(vec![format!("t{i}")]) })).collect();
        let answers = futures::future::join_all(requests.iter().map(|r| conn.request(r))).await;
        for (i, answer) in answers.into_iter().enumerate() {
            let Ok(Response::Metadata(m)) = answer else { panic!("metadata answer expected") };
            assert_eq!(m.topics[0].name, format!("t{i}"));
            assert_eq!(m.topics[0].error, ErrorCode::UnknownTopic);
        }
        assert_eq!(conn.in_flight(), 0);
        // Nothing listens on a port we just freed.
        let free: std::net::SocketAddr = ([127, 0, 0, 1], corelog_testkit::free_port()).into();
        let refused = Connection::connect(free, &config).await.unwrap_err();
        assert!(refused.is_retriable(), "{refused}");
    });
}

/// A fake broker on a std thread: answers the handshake, then either goes
/// silent (`hang`) or closes the connection on the next request.
fn fake_broker(hang: bool) -> std::net::SocketAddr {
    use corelog_protocol::*;
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buf = [0u8; 4096];
        let mut next_frame = |stream: &mut std::net::TcpStream| loop {
            if let Some(frame) = decoder.next_frame().unwrap() {
                return Some(frame);
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => decoder.feed(&buf[..n]),
            }
        };
        let hello = next_frame(&mut stream).unwrap();
        let versions = ApiVersionsResponse { api_versions: supported_api_versions(), ..Default::default() };
        let answer = encode_response(hello.header.correlation_id(), &Response::ApiVersions(versions)).unwrap();
        stream.write_all(&answer.to_contiguous()).unwrap();
        let _ = next_frame(&mut stream);
        if hang {
            while next_frame(&mut stream).is_some() {}
        }
    });
    addr
}

#[test]
fn connection_failures_fail_requests_in_flight() {
    run_client(LIMIT, async move {
        use corelog_protocol::{MetadataRequest, Request};
        let request = Request::Metadata(MetadataRequest { topics: None });
        let conn = Connection::connect(fake_broker(false), &ClientConfig::default()).await.unwrap();
        let (a, b) = futures::join!(conn.request(&request), conn.request(&request));
        for err in [a.unwrap_err(), b.unwrap_err()] {
            assert!(matches!(err, ClientError::Disconnected(_)), "{err}");
            assert!(err.is_retriable());
        }
        assert!(conn.is_closed());
        assert!(matches!(conn.request(&request).await, Err(ClientError::Disconnected(_))));

        let config = ClientConfig { request_timeout: Duration::from_millis(200), ..ClientConfig::default() };
        let conn = Connection::connect(fake_broker(true), &config).await.unwrap();
        let err = conn.request(&request).await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout(_)) && err.is_retriable(), "{err}");
        assert!(!conn.is_closed(), "a timeout forgets the request, not the connection");
        assert_eq!(conn.in_flight(), 0);
    });
}
