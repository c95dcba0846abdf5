//! Shared by the gateway's integration tests: a district with one elder living alone, a
//! notifier that tells nobody, the embedded broker with the gateway's login, and tests run on
//! both brokers.
// Each test binary uses part of this.
#![allow(dead_code, unused_macros)]

use std::sync::Arc;

use zhulao_domain::{ElderInput, Region, RegionCode, RegionLevel};
use zhulao_gateway::{BrokerStarted, EmbeddedBroker, IngestConfig, Metrics};
use zhulao_response::{Notifier, OutgoingNotification};
use zhulao_store::{Actor, NotificationRecord, Store};

/// Notifies nobody.
pub struct Silent;

#[async_trait::async_trait]
impl Notifier for Silent {
    async fn notify(&self, _n: &OutgoingNotification) -> Vec<NotificationRecord> {
        Vec::new()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the embedded broker `cfg` over `store`; returns it and the gateway's configuration
/// for its loopback port and login (no persistent session: the broker lives with the test).
pub async fn embedded(
    cfg: &EmbeddedBroker,
    store: Arc<dyn Store>,
    metrics: Metrics,
) -> (BrokerStarted, IngestConfig) {
    let started = zhulao_gateway::broker::start(cfg, store, metrics).await.unwrap();
    let mut ingest = IngestConfig::from_url(&format!("mqtt://{}", started.internal), "zhulao-test").unwrap();
    ingest.username = Some(started.login.username.clone());
    ingest.password = Some(started.login.password.clone().into());
    ingest.persistent_session = false;
    (started, ingest)
}

/// Runs each named `async fn(embedded: bool)` as two tests: on the embedded broker and on
/// Mosquitto.
macro_rules! on_both_brokers {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(true).await })+
        }
        mod mosquitto {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(false).await })+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_brokers;

/// Regions 平城区 › 柳港园社区 and one elder at (40.0769, 113.3001); returns the elder's id.
pub async fn one_elder(store: &dyn Store, name: &str) -> i64 {
    let code = |c: &str| RegionCode::parse("r", c).unwrap();
    store
        .upsert_regions(
            &[
                Region {
                    code: code("140213"),
                    parent: None,
                    name: "平城区".into(),
                    level: RegionLevel::County,
                },
                Region {
                    code: code("140213050002"),
                    parent: Some(code("140213")),
                    name: "柳港园社区".into(),
                    level: RegionLevel::Village,
                },
            ],
            Actor::SYSTEM,
        )
        .await
        .unwrap();
    let id =
        zhulao_domain::id_number::compose("140213", chrono::NaiveDate::from_ymd_opt(1940, 3, 15).unwrap(), 7)
            .unwrap();
    let elder = store
        .create_elder(
            &ElderInput {
                id_number: id.as_str().into(),
                name: name.into(),
                address: "柳港园3号楼".into(),
                region_code: "140213050002".into(),
                living: "独居".into(),
                lat: Some(40.0769),
                lon: Some(113.3001),
                ..Default::default()
            }
            .validate(chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
            .unwrap(),
            Actor::SYSTEM,
        )
        .await
        .unwrap();
    elder.id
}
