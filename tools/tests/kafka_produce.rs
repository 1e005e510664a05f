//! Real Kafka clients producing through the Kafka listener: kcat
//! (librdkafka), kafka-python, confluent-kafka and kafkajs, with every
//! compression codec each one has, read back by another Kafka client and by
//! `corelog consume` (the native client reading stored v2 batches); and an
//! idempotent Kafka producer going on across a kill -9 of the broker: its
//! sequence state is rebuilt, every record is delivered and stored once.

mod cli_support;
mod kafka_support;

use std::process::Command;

use cli_support::corelog;
use kafka_support::*;

/// kafka-python: RECORDS keyed records `k{i}`/`v{i}` with `compression_type`.
const KAFKA_PYTHON_PRODUCE: &str = r#"
import sys, kafka
bootstrap, topic, codec, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type=None if codec == "none" else codec)
futures = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i) for i in range(n)]
p.flush(60)
for f in futures:
    f.get(timeout=60)
p.close()
"#;

/// confluent-kafka (librdkafka 2.x): the same with `compression.type`.
const CONFLUENT_PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
bootstrap, topic, codec, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": codec, "linger.ms": 5})
errors = []
for i in range(n):
    p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, on_delivery=lambda e, m: e and errors.append(str(e)))
    p.poll(0)
left = p.flush(60)
if left or errors:
    raise SystemExit("undelivered %d, errors %s" % (left, errors[:3]))
"#;

/// kafkajs: the same (its built-in codecs: none and gzip).
const KAFKAJS_PRODUCE: &str = r#"
const { Kafka, CompressionTypes, logLevel } = require("kafkajs");
const [bootstrap, topic, codec, n] = [process.argv[1], process.argv[2], process.argv[3], parseInt(process.argv[4])];
const kafka = new Kafka({ clientId: "kafkajs-producer", brokers: [bootstrap], logLevel: logLevel.ERROR });
const producer = kafka.producer();
(async () => {
  await producer.connect();
  const compression = codec === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None;
  for (let start = 0; start < n; start += 1000) {
    const messages = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) messages.push({ key: `k${i}`, value: `v${i}` });
    await producer.send({ topic, acks: -1, compression, messages });
  }
  await producer.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// `corelog consume` of every partition, as `partition offset key value` lines.
fn native_read(broker: &Broker, topic: &str) -> String {
    let args = ["consume", "-t", topic, "--print-partition", "--print-offset", "--print-key", "--key-separator", " "];
    corelog(&[&args[..], &["-b", &broker.native()]].concat(), "").ok().stdout
}

fn kafka_client(script: &str, client: &str, args: &[&str]) -> Command {
    match client {
        "kafkajs" => {
            let mut node = Command::new("node");
            node.arg("-e").arg(script).args(args);
            node.env("NODE_PATH", kafkajs_dir().join("node_modules"));
            node
        }
        _ => python(script, args),
    }
}

#[test]
fn every_client_produces_with_every_codec_and_other_clients_read_it_all() {
    let broker = Broker::start();
    let mut cases: Vec<(&str, &str)> = Vec::new();
    if have_python_module("kafka") {
        cases.extend(["none", "gzip", "snappy", "lz4", "zstd"].map(|c| ("kafka-python", c)));
    } else {
        eprintln!("skipping kafka-python: not installed (run scripts/install-deps.sh)");
    }
    if have_python_module("confluent_kafka") {
        cases.extend(["none", "gzip", "snappy", "lz4", "zstd"].map(|c| ("confluent-kafka", c)));
    } else {
        eprintln!("skipping confluent-kafka: not installed (run scripts/install-deps.sh)");
    }
    if have_kafkajs() {
        cases.extend(["none", "gzip"].map(|c| ("kafkajs", c)));
    } else {
        eprintln!("skipping kafkajs: not installed (run scripts/install-deps.sh)");
    }
    if have_command("kcat", &["-V"]) {
        cases.extend(["none", "gzip", "snappy", "lz4"].map(|c| ("kcat", c)));
    } else {
        eprintln!("skipping kcat: not installed (run scripts/install-deps.sh)");
    }
    let n = RECORDS.to_string();
    let bootstrap = broker.kafka();
    for (client, codec) in cases {
        let topic = format!("{client}-{codec}");
        corelog(&["topic", "create", &topic, "--partitions", &PARTITIONS.to_string(), "-b", &broker.native()], "").ok();
        let what = format!("{client} producing with {codec}");
        match client {
            "kafka-python" => {
                run_client(kafka_client(KAFKA_PYTHON_PRODUCE, client, &[&bootstrap, &topic, codec, &n]), &what)
            }
            "confluent-kafka" => {
                run_client(kafka_client(CONFLUENT_PRODUCE, client, &[&bootstrap, &topic, codec, &n]), &what)
            }
            "kafkajs" => run_client(kafka_client(KAFKAJS_PRODUCE, client, &[&bootstrap, &topic, codec, &n]), &what),
            _ => {
                let input: String = (0..RECORDS).map(|i| format!("k{i}:v{i}\n")).collect();
                let mut kcat = Command::new("kcat");
                kcat.args(["-P", "-b", &bootstrap, "-t", &topic, "-K", ":", "-z", codec, "-X", "acks=all"]);
                run_client_with_input(kcat, &input, &what)
            }
        };
        // The native client reads the stored v2 batches (compressed ones too).
        let native = native_read(&broker, &topic);
        assert_all_records(&native, &format!("corelog consume of {what}"));
    }
    // A Kafka client reads what another Kafka client produced, compressed.
    if have_python_module("confluent_kafka") && have_python_module("kafka") {
        let out = run_client(python(CONFLUENT_READ, &[&bootstrap, "kafka-python-zstd", &n]), "confluent-kafka reading");
        assert_all_records(&out, "confluent-kafka reading kafka-python's zstd batches");
    }
}

/// An idempotent confluent-kafka producer writing `n` records one by one
/// (librdkafka retries across the broker's restart); prints how many were
/// delivered and the first errors.
const CONFLUENT_IDEMPOTENT: &str = r#"
import sys, time
from confluent_kafka import Producer
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 2,
              "message.timeout.ms": 120000, "reconnect.backoff.max.ms": 500})
state = {"ok": 0, "errors": []}
def report(e, m):
    if e: state["errors"].append(str(e))
    else: state["ok"] += 1
for i in range(n):
    p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, on_delivery=report)
    p.poll(0)
    if i % 200 == 0:
        time.sleep(0.01)
        print("sent", i, flush=True)
p.flush(120)
print("delivered", state["ok"], "errors", state["errors"][:3], flush=True)
"#;

#[test]
fn an_idempotent_kafka_producer_across_a_broker_kill_stores_every_record_once() {
    require!(have_python_module("confluent_kafka"), "confluent-kafka");
    let mut broker = Broker::start();
    corelog(&["topic", "create", "idem", "--partitions", &PARTITIONS.to_string(), "-b", &broker.native()], "").ok();
    let n = RECORDS.to_string();
    let mut producer = python(CONFLUENT_IDEMPOTENT, &[&broker.kafka(), "idem", &n])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the producer");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(producer.stdout.take().expect("stdout")));
    // Kill the broker mid-stream, then bring it back on the same data.
    for line in lines.by_ref() {
        if line.expect("a line").starts_with(&format!("sent {}", RECORDS / 2)) {
            break;
        }
    }
    broker.kill_and_restart();
    let rest: Vec<String> = lines.map(|l| l.expect("a line")).collect();
    assert!(producer.wait().expect("producer").success(), "the producer failed: {rest:?}");
    let summary = rest.last().cloned().unwrap_or_default();
    assert!(summary.starts_with(&format!("delivered {RECORDS} errors []")), "{summary}");
    // Every record once, offsets dense: no retried batch stored twice.
    assert_all_records(&native_read(&broker, "idem"), "the idempotent producer's records");
}
