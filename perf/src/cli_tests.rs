//! Argument parsing tests.

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("corelog-perf").chain(args.iter().copied()))
}

fn produce(args: &[&str]) -> PerfResult<ProduceConfig> {
    let mut all = vec!["produce"];
    all.extend_from_slice(args);
    match parse(&all).map_err(|e| PerfError::new(e.to_string()))?.command {
        Command::Produce(a) => a.into_config(),
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn produce_with_kafka_flags() {
    let c = produce(&[
        "--topic",
        "t",
        "--num-records",
        "1000",
        "--record-size",
        "100",
        "--throughput",
        "500",
        "--acks",
        "1",
        "--batch-size",
        "16384",
        "--linger-ms",
        "5",
        "--producers",
        "4",
        "--threads",
        "2",
        "--partitions",
        "6",
        "--key-pattern",
        "sequential:10",
        "--bootstrap",
        "127.0.0.1:1000,127.0.0.1:1001",
        "--topic-config",
        "flush.policy=always",
        "--output",
        "out",
        "--progress",
        "lines",
    ])
    .unwrap();
    assert_eq!(c.common.topic, "t");
    assert_eq!(
        c.common.bootstrap,
        vec!["127.0.0.1:1000".parse::<SocketAddr>().unwrap(), "127.0.0.1:1001".parse().unwrap()]
    );
    assert_eq!(c.common.output, Some(PathBuf::from("out")));
    assert_eq!(c.common.display, Display::Plain);
    assert_eq!(c.common.reporting_interval, Duration::from_secs(5));
    let p = &c.producer;
    assert_eq!(p.limit, Limit::Records(1000));
    assert_eq!(p.payload, Payload::Random(100));
    assert_eq!(p.throughput, Some(500.0));
    assert_eq!(p.acks, Acks::Leader);
    assert_eq!((p.batch_size, p.linger), (16384, Duration::from_millis(5)));
    assert_eq!((p.producers, p.threads), (4, 2));
    assert_eq!(p.key_pattern, KeyPattern::Sequential(10));
    assert_eq!(c.topic.partitions, Some(6));
    assert_eq!(c.topic.configs, vec![("flush.policy".to_owned(), "always".to_owned())]);
}

#[test]
fn produce_defaults_and_unthrottled() {
    let c = produce(&["--topic", "t", "--duration", "30s", "--throughput", "-1", "--acks", "-1"]).unwrap();
    assert_eq!(c.producer.limit, Limit::Duration(Duration::from_secs(30)));
    assert_eq!(c.producer.throughput, None);
    assert_eq!(c.producer.acks, Acks::All);
    assert_eq!(c.producer.payload, Payload::Random(1024));
    assert_eq!(c.producer.key_pattern, KeyPattern::None);
    assert_eq!((c.producer.producers, c.producer.threads), (1, 1));
    assert_eq!(c.producer.batch_size, 1 << 20);
    assert_eq!(c.common.bootstrap, vec!["127.0.0.1:9192".parse::<SocketAddr>().unwrap()]);
    assert_eq!(c.common.display, Display::Auto);
    assert_eq!(c.topic.partitions, None);
    let d = produce(&["--topic", "t", "--num-records", "5", "--producers", "3"]).unwrap();
    assert_eq!(d.producer.throughput, None);
    assert_eq!((d.producer.producers, d.producer.threads), (3, 3), "a thread per producer by default");
}

#[test]
fn produce_rejects_bad_flags() {
    // A limit is required, and only one.
    assert!(produce(&["--topic", "t"]).is_err());
    assert!(produce(&["--topic", "t", "--num-records", "5", "--duration", "5"]).is_err());
    // The topic is required.
    assert!(produce(&["--num-records", "5"]).is_err());
    for bad in [
        &["--throughput", "0"][..],
        &["--throughput", "-5"],
        &["--acks", "2"],
        &["--key-pattern", "sequential:0"],
        &["--key-pattern", "zipf"],
        &["--producers", "0"],
        &["--compression-type", "gzip"],
        &["--bootstrap", "nohost"],
        &["--topic-config", "novalue"],
        &["--record-size", "10", "--payload-file", "x"],
    ] {
        let mut args = vec!["--topic", "t", "--num-records", "5"];
        args.extend_from_slice(bad);
        assert!(produce(&args).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn payload_file_lines_become_payloads() {
    // Under the target directory (next to the test binary), not /tmp.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().join("corelog-perf-cli-payload-test");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("payloads.txt");
    std::fs::write(&file, "alpha\nbeta\n\ngamma\n").unwrap();
    let c = produce(&["--topic", "t", "--num-records", "5", "--payload-file", file.to_str().unwrap()]).unwrap();
    assert_eq!(c.producer.payload, Payload::Lines(vec!["alpha".into(), "beta".into(), "gamma".into()]));
    let missing = produce(&["--topic", "t", "--num-records", "5", "--payload-file", "/nonexistent/payloads"]);
    assert!(missing.unwrap_err().0.contains("/nonexistent/payloads"));
}

#[test]
fn consume_flags() {
    let cli = parse(&[
        "consume",
        "--topic",
        "t",
        "--messages",
        "100",
        "--from",
        "latest",
        "--fetch-size",
        "65536",
        "--timeout",
        "2000",
        "--group",
        "g",
        "--show-detailed-stats",
    ])
    .unwrap();
    let Command::Consume(args) = cli.command else { panic!() };
    let c = args.into_config();
    assert_eq!(c.messages, Some(100));
    assert_eq!(c.from, StartFrom::Latest);
    assert_eq!(c.fetch_size, 65536);
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.group.as_deref(), Some("g"));
    assert!(c.detailed_stats);
    let Command::Consume(args) = parse(&["consume", "--topic", "t"]).unwrap().command else { panic!() };
    let d = args.into_config();
    assert_eq!((d.messages, d.from, d.group), (None, StartFrom::Earliest, None));
}

#[test]
fn e2e_needs_a_rate() {
    let Command::E2e(args) = parse(&["e2e", "--topic", "t", "--duration", "5"]).unwrap().command else { panic!() };
    assert!(args.into_config().unwrap_err().0.contains("--throughput"));
    let Command::E2e(args) =
        parse(&["e2e", "--topic", "t", "--duration", "5", "--throughput", "1000", "--timeout", "500"]).unwrap().command
    else {
        panic!()
    };
    let c = args.into_config().unwrap();
    assert_eq!(c.producer.throughput, Some(1000.0));
    assert_eq!(c.timeout, Duration::from_millis(500));
}

#[test]
fn value_parsers() {
    assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
    assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("").is_err());
    assert_eq!(parse_key_pattern("random").unwrap(), KeyPattern::Random);
    assert_eq!(parse_compression("ZSTD").unwrap(), Compression::Zstd);
    assert_eq!(parse_key_value("a.b = c").unwrap(), ("a.b".into(), "c".into()));
    assert_eq!(parse_acks("ALL").unwrap(), Acks::All);
    assert_eq!(parse_acks("0").unwrap(), Acks::None);
    assert_eq!(parse_bootstrap("localhost:9192").unwrap().port(), 9192);
}
