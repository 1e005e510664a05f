#!/usr/bin/env bash
# Installs what a fresh machine needs to build and test corelog.
# The machine image already has the Rust toolchain (rustup, cargo) and gcc
# (the zstd crate builds its C library with it); system packages go here,
# so CI and developers stay in step.
set -euo pipefail

command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
command -v cc >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc; }
# tikv-jemalloc-sys (the broker's allocator) builds jemalloc with configure and make.
command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq make; }
# tools/tests/disk_full.rs fills a loop-mounted ext4 file system of its own:
# mkfs.ext4 (e2fsprogs), mount and fallocate (util-linux).
if ! command -v mkfs.ext4 >/dev/null || ! command -v fallocate >/dev/null; then
  apt-get update -qq && apt-get install -y -qq e2fsprogs util-linux mount
fi

# io_uring must be usable: glommio needs it for every executor.
if [ -r /proc/sys/kernel/io_uring_disabled ] && [ "$(cat /proc/sys/kernel/io_uring_disabled)" != "0" ]; then
  echo "warning: io_uring is disabled (kernel.io_uring_disabled != 0); corelog cannot run" >&2
fi

# Kafka client tests (tools/tests/kafka_clients.rs) drive real clients against
# the Kafka listener: kcat (apt), kafka-python and confluent-kafka (pip) and
# kafkajs (npm, installed into KAFKAJS_DIR, which the tests read too).
KAFKAJS_DIR="${KAFKAJS_DIR:-/opt/corelog-kafkajs}"
if ! command -v kcat >/dev/null; then
  apt-get update -qq && apt-get install -y -qq kcat
fi
# lz4, python-snappy and zstandard are kafka-python's codecs (gzip is built in).
PY_PACKAGES="kafka-python confluent-kafka lz4 python-snappy zstandard"
if ! python3 -c 'import kafka, confluent_kafka, lz4, snappy, zstandard' 2>/dev/null; then
  python3 -m pip --version >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-pip; }
  # A Debian system python refuses pip installs outside a venv (PEP 668);
  # these packages only serve the tests, so install them anyway.
  python3 -m pip install --quiet --disable-pip-version-check $PY_PACKAGES \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages $PY_PACKAGES
fi
if ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
if [ ! -d "$KAFKAJS_DIR/node_modules/kafkajs" ]; then
  mkdir -p "$KAFKAJS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$KAFKAJS_DIR" kafkajs
fi
