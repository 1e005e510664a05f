//! Produce a volume of fixed-size records to a running broker with acks=all,
//! then consume it all back; prints MB/s, records/s and latency percentiles.
//!
//! ```sh
//! corelog broker --data-dir /ssd/corelog &          # or: cargo run --release -p corelog-tools -- broker
//! cargo run --release -p corelog-client --example throughput -- --gib 2
//! ```
//!
//! The full load tools (rate control, coordinated-omission correction,
//! histogram files) are `corelog-perf`; this is the minimal measurement.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use corelog_client::*;
use corelog_runtime::run_local;
use futures::stream::{FuturesUnordered, StreamExt};
use hdrhistogram::Histogram;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9192")]
    bootstrap: SocketAddr,
    #[arg(long, default_value = "throughput")]
    topic: String,
    #[arg(long, default_value_t = 2)]
    partitions: u32,
    /// Volume to produce, GiB.
    #[arg(long, default_value_t = 1.0)]
    gib: f64,
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Records awaiting their acknowledgement at once.
    #[arg(long, default_value_t = 65_536)]
    window: usize,
    #[arg(long, default_value_t = 1 << 20)]
    batch_size: usize,
    #[arg(long, default_value_t = 2)]
    linger_ms: u64,
}

fn percentiles(name: &str, h: &Histogram<u64>) {
    println!(
        "  {name} latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.95) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    );
}

fn main() -> Result<(), ClientError> {
    let args = Args::parse();
    run_local(async move {
        let cluster = Cluster::connect(&[args.bootstrap], ClientConfig::default()).await?;
        match Admin::new(&cluster).create_topic(&args.topic, args.partitions, &[]).await {
            Ok(()) | Err(ClientError::Broker { code: corelog_protocol::ErrorCode::TopicAlreadyExists, .. }) => {}
            Err(e) => return Err(e),
        }
        let records = ((args.gib * (1u64 << 30) as f64) as u64 / args.record_bytes as u64).max(1);
        let value = Bytes::from(vec![b'x'; args.record_bytes]);
        let config = ProducerConfig {
            acks: Acks::All,
            batch_size: args.batch_size,
            linger: Duration::from_millis(args.linger_ms),
            max_in_flight: 8,
            ..ProducerConfig::default()
        };
        let producer = Producer::new(&cluster, config);
        let latency = Rc::new(RefCell::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram")));
        let mut in_flight = FuturesUnordered::new();
        let started = Instant::now();
        for _ in 0..records {
            let sent = Instant::now();
            let delivery = producer.send(ProducerRecord::new(args.topic.as_str(), value.clone()));
            let latency = latency.clone();
            in_flight.push(async move {
                let r = delivery.await;
                let _ = latency.borrow_mut().record(sent.elapsed().as_micros().max(1) as u64);
                r
            });
            if in_flight.len() >= args.window {
                if let Some(r) = in_flight.next().await {
                    r?;
                }
            }
        }
        while let Some(r) = in_flight.next().await {
            r?;
        }
        producer.flush().await?;
        let elapsed = started.elapsed().as_secs_f64();
        let bytes = records * args.record_bytes as u64;
        println!(
            "produced {records} records of {} B in {elapsed:.2} s: {:.1} MB/s, {:.0} records/s (acks=all)",
            args.record_bytes,
            bytes as f64 / elapsed / 1e6,
            records as f64 / elapsed
        );
        percentiles("produce", &latency.borrow());

        let mut consumer = Consumer::new(&cluster, ConsumerConfig::default());
        consumer.assign_all(&args.topic, StartAt::Earliest).await?;
        let started = Instant::now();
        let mut consumed = 0u64;
        let mut consumed_bytes = 0u64;
        while consumed < records {
            for r in consumer.poll(Duration::from_secs(1)).await? {
                consumed += 1;
                consumed_bytes += r.value.len() as u64;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "consumed {consumed} records in {elapsed:.2} s: {:.1} MB/s, {:.0} records/s",
            consumed_bytes as f64 / elapsed / 1e6,
            consumed as f64 / elapsed
        );
        Ok(())
    })
}
