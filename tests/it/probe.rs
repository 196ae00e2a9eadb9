//! Status requests against real loopback servers: every outcome a probe can have, with the exact
//! `last_error` text an operator will read.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use firstwatch::config::{DnsConfig, ExpectStatus};
use firstwatch::domain::Target;
use firstwatch::probe::{Limits, ProbeResult, Prober, MAX_REDIRECTS};

use crate::helpers::dns_server;
use crate::helpers::targets::{refused_addr, start_tls_self_signed, Behavior, FakeTarget};

fn limits(timeout_ms: u64) -> Limits {
    Limits { timeout: Duration::from_millis(timeout_ms), expect_status: ExpectStatus::AnySuccess }
}

fn prober() -> Prober {
    Prober::new(&DnsConfig::default()).expect("prober with the system resolver")
}

/// A prober whose names resolve only through the test DNS responder.
fn prober_with_dns(dns: SocketAddr) -> Prober {
    Prober::new(&DnsConfig { servers: vec![dns] }).expect("prober with the test resolver")
}

async fn probe(prober: &Prober, target: &str, limits: &Limits) -> ProbeResult {
    let target: Target = target.parse().expect("valid target");
    prober.probe(&target, limits).await
}

/// The detail of a success, or a panic that shows the error.
fn detail(result: &ProbeResult) -> String {
    match &result.outcome {
        Ok(success) => success.detail.clone(),
        Err(e) => panic!("expected success, got error {e:?} ({e})"),
    }
}

/// The `last_error` text of a failure, or a panic that shows the success.
fn last_error(result: &ProbeResult) -> String {
    match &result.outcome {
        Ok(success) => panic!("expected failure, got success {:?}", success.detail),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_http_server_is_a_success() {
    let target = FakeTarget::start(Behavior::Healthy).await;
    let result = probe(&prober(), &target.url(), &limits(2000)).await;
    assert_eq!(detail(&result), "HTTP 200");
    assert_eq!(target.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_answer_fails_with_http_500() {
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let result = probe(&prober(), &target.url(), &limits(2000)).await;
    assert_eq!(last_error(&result), "http 500");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expected_status_of_500_makes_a_500_answer_a_success_and_200_a_failure() {
    let target = FakeTarget::start(Behavior::Status(500)).await;
    let expect_500 = Limits { timeout: Duration::from_secs(2), expect_status: ExpectStatus::OneOf(vec![500]) };
    let prober = prober();
    assert_eq!(detail(&probe(&prober, &target.url(), &expect_500).await), "HTTP 500");

    target.set(Behavior::Healthy);
    assert_eq!(last_error(&probe(&prober, &target.url(), &expect_500).await), "http 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_a_fake_target_changes_the_next_outcome() {
    let target = FakeTarget::start(Behavior::Healthy).await;
    let prober = prober();
    assert!(probe(&prober, &target.url(), &limits(2000)).await.is_success());
    target.set(Behavior::Status(503));
    assert_eq!(last_error(&probe(&prober, &target.url(), &limits(2000)).await), "http 503");
    target.set(Behavior::Healthy);
    assert!(probe(&prober, &target.url(), &limits(2000)).await.is_success());
    assert_eq!(target.hits(), 3, "every status request opens its own connection and is seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_target_that_refuses_connections_fails_with_connection_refused() {
    let url = format!("http://{}/health", refused_addr());
    let result = probe(&prober(), &url, &limits(2000)).await;
    assert_eq!(last_error(&result), "connection refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_drops_the_connection_fails_with_a_connection_error() {
    let target = FakeTarget::start(Behavior::Close).await;
    let result = probe(&prober(), &target.url(), &limits(2000)).await;
    assert_eq!(last_error(&result), "connection closed before message completed");
    assert_eq!(result.outcome.as_ref().map_err(|e| e.class()).err(), Some("connection"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_times_out_while_concurrent_probes_of_healthy_servers_finish_fast() {
    let hung = FakeTarget::start(Behavior::Hang).await;
    let healthy = FakeTarget::start(Behavior::Healthy).await;
    let prober = prober();
    let bounded = limits(300);

    let (hung_url, healthy_url) = (hung.url(), healthy.url());

    let started = Instant::now();
    let hung_probe = probe(&prober, &hung_url, &bounded);
    let healthy_probes = futures_util::future::join_all((0..5).map(|_| probe(&prober, &healthy_url, &bounded)));
    let (hung_result, healthy_results) = tokio::join!(hung_probe, healthy_probes);
    let elapsed = started.elapsed();

    assert_eq!(last_error(&hung_result), "timeout after 300ms");
    assert!(hung_result.duration >= Duration::from_millis(300), "stopped early: {:?}", hung_result.duration);
    assert!(elapsed < Duration::from_secs(1), "the hung probe stalled: {elapsed:?}");
    // Had they queued behind the hung request, they would have hit the same 300ms timeout.
    for result in &healthy_results {
        assert_eq!(detail(result), "HTTP 200");
    }
    assert_eq!(hung.hits(), 1);
    assert_eq!(healthy.hits(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_body_with_status_200_is_a_success_because_reading_stops_at_the_limit() {
    // The body never ends: reading it to the end would be a timeout, not a success.
    let target = FakeTarget::start(Behavior::HugeBody).await;
    let result = probe(&prober(), &target.url(), &limits(5000)).await;
    assert_eq!(detail(&result), "HTTP 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_fails_with_too_many_redirects_after_following_five() {
    let target = FakeTarget::start(Behavior::RedirectLoop).await;
    let result = probe(&prober(), &target.url(), &limits(5000)).await;
    assert_eq!(last_error(&result), "too many redirects");
    assert_eq!(target.hits(), MAX_REDIRECTS + 1, "the first request plus five redirects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_fails_with_the_tls_error() {
    let (addr, server) = start_tls_self_signed().await;
    let url = format!("https://{addr}/health");
    let result = probe(&prober(), &url, &limits(5000)).await;
    let error = last_error(&result);
    server.abort();
    assert!(error.starts_with("tls: "), "{error}");
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(error, "tls: invalid peer certificate: UnknownIssuer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_target_that_accepts_is_a_success() {
    let target = FakeTarget::start(Behavior::Healthy).await;
    let result = probe(&prober(), &format!("tcp://{}", target.addr()), &limits(2000)).await;
    assert_eq!(detail(&result), format!("connected to {}", target.addr()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_target_that_refuses_fails_with_connection_refused() {
    let result = probe(&prober(), &format!("tcp://{}", refused_addr()), &limits(2000)).await;
    assert_eq!(last_error(&result), "connection refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_with_an_address_is_a_success() {
    let (dns, server) = dns_server::start().await;
    let result = probe(&prober_with_dns(dns), "dns://good.test", &limits(2000)).await;
    server.abort();
    assert_eq!(detail(&result), "1 address: 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_that_does_not_exist_fails_with_nxdomain() {
    let (dns, server) = dns_server::start().await;
    let result = probe(&prober_with_dns(dns), "dns://missing.test", &limits(2000)).await;
    server.abort();
    assert_eq!(last_error(&result), "dns: no such name (NXDOMAIN)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_server_failure_fails_with_servfail() {
    let (dns, server) = dns_server::start().await;
    let result = probe(&prober_with_dns(dns), "dns://servfail.test", &limits(2000)).await;
    server.abort();
    assert_eq!(last_error(&result), "dns: server failure (SERVFAIL)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_without_addresses_fails_with_no_records() {
    let (dns, server) = dns_server::start().await;
    let result = probe(&prober_with_dns(dns), "dns://empty.test", &limits(2000)).await;
    server.abort();
    assert_eq!(last_error(&result), "dns: no records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_dns_probe_times_out() {
    // A bound UDP socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind silent DNS");
    let dns = silent.local_addr().expect("silent DNS address");
    let result = probe(&prober_with_dns(dns), "dns://good.test", &limits(300)).await;
    assert_eq!(last_error(&result), "timeout after 300ms");
    assert!(result.duration < Duration::from_secs(1), "{:?}", result.duration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_target_named_by_host_resolves_through_the_configured_dns() {
    let (dns, server) = dns_server::start().await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let prober = prober_with_dns(dns);
    let url = format!("http://good.test:{}/health", target.addr().port());
    let result = probe(&prober, &url, &limits(2000)).await;
    assert_eq!(detail(&result), "HTTP 200");
    assert_eq!(target.hits(), 1);

    let missing = format!("http://missing.test:{}/health", target.addr().port());
    let result = probe(&prober, &missing, &limits(2000)).await;
    server.abort();
    assert_eq!(last_error(&result), "dns: no such name (NXDOMAIN)", "same text as a dns:// probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_target_named_by_host_resolves_through_the_configured_dns() {
    let (dns, server) = dns_server::start().await;
    let target = FakeTarget::start(Behavior::Healthy).await;
    let port = target.addr().port();
    let prober = prober_with_dns(dns);
    let result = probe(&prober, &format!("tcp://good.test:{port}"), &limits(2000)).await;
    assert_eq!(detail(&result), format!("connected to 127.0.0.1:{port}"));

    let result = probe(&prober, &format!("tcp://servfail.test:{port}"), &limits(2000)).await;
    server.abort();
    assert_eq!(last_error(&result), "dns: server failure (SERVFAIL)");
}
