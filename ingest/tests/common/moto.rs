//! moto_server (scripts/moto.sh start) as the ingest tests reach it: real AWS wire protocols
//! through the real SDK clients.

use aws_sdk_sqs::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

pub fn url() -> String {
    std::env::var("SENDOPS_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// For `unwrap_or_else` on a test's first call: says where moto_server was expected.
pub fn down<T>(e: impl std::fmt::Debug) -> T {
    panic!("moto_server at {} (scripts/moto.sh start): {e:?}", url())
}

/// Test credentials, us-east-1, every service at moto's endpoint.
pub fn sdk() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .build()
}

pub fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk())
}

/// A new queue named `name`; returns its URL.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(down)
        .queue_url
        .unwrap()
}

/// Sends every body, ten to a SendMessageBatch call.
pub async fn send_all(sqs: &aws_sdk_sqs::Client, url: &str, bodies: &[String]) {
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("{n}-{i}"))
                    .message_body(b)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
}

/// `sendops-ingest poll` on `queue` at moto, storing into `database` at `clickhouse`, one receive
/// and one delete at a time: moto's SQS is not safe for concurrent calls (DeleteMessage rebuilds
/// its message list without a lock, so two at once can resurrect a deleted message; receives can
/// hand out a message twice, getmoto/moto#519). tests/poll_concurrent.rs runs the concurrent
/// poller against the SQS stand-in.
pub fn poller(queue: &str, clickhouse: &str, database: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"));
    cmd.args(["poll", "--queue-url", queue, "--endpoint-url", &url()])
        .env("SQS_RECEIVERS", "1")
        .env("SQS_DELETERS", "1")
        .env("CLICKHOUSE_URL", clickhouse)
        .env("CLICKHOUSE_DATABASE", database)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    cmd
}
