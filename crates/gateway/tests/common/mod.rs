//! Shared by the gateway's integration tests: a district with one elder living alone.

use zhulao_domain::{ElderInput, Region, RegionCode, RegionLevel};
use zhulao_store::{Actor, Store};

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
