//! `zhulao demo --no-serve` loads the home-care services along with the registry: orders in
//! every state played through the service layer (each step audited), settlements that add
//! up, meal orders, menus, and caregivers on duty with the catalogue's skills.

use std::process::{Command, Stdio};
use std::sync::Arc;

use zhulao_store::{AuditFilter, OrderFilter, OrderScope, SettlementFilter, SystemClock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_has_home_care_services_in_every_state() {
    let dir = std::env::temp_dir().join(format!("zhulao-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_zhulao"))
        .args(["demo", "--no-serve", "--elders", "400", "--database-url", &db])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("home-care services:"), "{stdout}");

    let store = zhulao_store::open(&db, Arc::new(SystemClock)).await.unwrap();
    let orders = store
        .list_orders(&OrderFilter { limit: 500, ..OrderFilter::scoped(OrderScope::All) })
        .await
        .unwrap()
        .items;
    let states: std::collections::BTreeSet<&str> = orders.iter().map(|r| r.order.state.as_str()).collect();
    for s in ["published", "taken", "on_the_way", "checked_in", "completed", "settled", "cancelled"] {
        assert!(states.contains(s), "no demo order is {s}: {states:?}");
    }
    let settlements = store.settlements(&SettlementFilter::default()).await.unwrap();
    assert!(settlements.len() > 20, "{} settlements", settlements.len());
    for s in &settlements {
        assert_eq!(s.split.total(), s.split.price, "every split adds up");
    }
    let audited = store
        .list_audit(&AuditFilter { entity: Some("order".into()), limit: 1, ..Default::default() })
        .await
        .unwrap()
        .total;
    assert!(
        audited >= 5 * orders.len() as i64 / 2,
        "{audited} order audit entries for {} orders",
        orders.len()
    );
    let meals =
        store.list_meal_orders(&zhulao_store::MealOrderFilter::scoped(OrderScope::All)).await.unwrap().total;
    assert!(meals > 20, "{meals} meal orders");
    let catalogue = store.catalogue().await.unwrap();
    assert!(catalogue.items().count() >= 20);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
