//! Loads a generated demo district into a store, through the same validation and the same
//! store calls as real data (every write audited, as the system actor).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use zhulao_demo::DemoDistrict;
use zhulao_domain::ElderScope;
use zhulao_store::{Actor, ElderFilter, Store};

#[derive(Debug, Default)]
pub struct LoadReport {
    /// Store ids, parallel to the district's accounts, facilities and elders.
    pub account_ids: Vec<i64>,
    pub facility_ids: Vec<i64>,
    pub elder_ids: Vec<i64>,
    pub regions: usize,
    pub facilities: usize,
    pub accounts: usize,
    pub elders: usize,
    pub devices: usize,
    pub import_seconds: f64,
    pub total_seconds: f64,
}

fn fields(e: Vec<zhulao_domain::FieldError>) -> anyhow::Error {
    anyhow!("demo data failed validation: {}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
}

pub async fn load(store: &Arc<dyn Store>, d: &DemoDistrict) -> anyhow::Result<LoadReport> {
    let started = Instant::now();
    let sys = Actor::SYSTEM;
    let today = d.today;
    let mut report =
        LoadReport { regions: store.upsert_regions(&d.regions, sys).await?, ..Default::default() };

    let mut facility_ids = Vec::with_capacity(d.facilities.len());
    for f in &d.facilities {
        let rec = f.validate().map_err(fields)?;
        facility_ids.push(store.create_facility(&rec, sys).await?.id);
    }
    report.facilities = facility_ids.len();

    // One hash for every demo account: they share the published demo password.
    let hash =
        tokio::task::spawn_blocking(|| zhulao_api::auth::hash_password(zhulao_demo::DEMO_PASSWORD)).await?;
    let mut account_ids = Vec::with_capacity(d.accounts.len());
    for a in &d.accounts {
        let (acc, _) = a.resolve(&facility_ids).validate().map_err(fields)?;
        account_ids.push(
            store
                .create_account(&acc, &hash, sys)
                .await
                .with_context(|| format!("account {}", acc.username))?
                .id,
        );
    }
    report.accounts = account_ids.len();

    let records = d
        .elders
        .iter()
        .map(|e| e.resolve(&account_ids, &facility_ids).validate(today).map_err(fields))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t = Instant::now();
    let summary = store.import_elders(&records, sys).await?;
    report.import_seconds = t.elapsed().as_secs_f64();
    report.elders = summary.inserted + summary.updated + summary.unchanged;
    let all = store
        .list_elders(&ElderFilter {
            limit: i64::try_from(records.len()).unwrap_or(i64::MAX).max(1),
            ..ElderFilter::scoped(ElderScope::All)
        })
        .await?;
    let by_number: HashMap<String, i64> =
        all.items.into_iter().map(|e| (e.record.id_number.as_str().to_string(), e.id)).collect();
    let elder_id = |i: usize| -> anyhow::Result<i64> {
        by_number
            .get(records[i].id_number.as_str())
            .copied()
            .ok_or_else(|| anyhow!("elder {i} was not stored"))
    };

    for (a, id) in d.accounts.iter().zip(&account_ids) {
        if let Some(i) = a.elder {
            store.link_family(*id, elder_id(i)?, sys).await?;
        }
    }
    // Each caregiver is at a few homes today, so the caregiver view has elders to show.
    let caregivers: Vec<i64> = d
        .accounts
        .iter()
        .zip(&account_ids)
        .filter(|(a, _)| a.input.role == "caregiver")
        .map(|(_, id)| *id)
        .collect();
    for (n, caregiver) in caregivers.iter().enumerate() {
        for k in 0..3 {
            let i = (n * 37 + k * 11) % records.len().max(1);
            if !records.is_empty() {
                store.start_assignment(*caregiver, elder_id(i)?, sys).await?;
            }
        }
    }
    for dev in &d.devices {
        let new = dev.input.validate().map_err(fields)?;
        let secret_hash = zhulao_api::auth::token_hash(&zhulao_demo::device_secret(&new.serial));
        let stored = store.register_device(&new, &secret_hash, sys).await?;
        if let Some(i) = dev.elder {
            store.bind_device(stored.id, elder_id(i)?, sys).await?;
        }
    }
    report.devices = d.devices.len();
    report.elder_ids = (0..records.len()).map(elder_id).collect::<anyhow::Result<_>>()?;
    report.account_ids = account_ids;
    report.facility_ids = facility_ids;
    report.total_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Whether the store already holds a district (an admin account exists).
pub async fn already_loaded(store: &Arc<dyn Store>) -> anyhow::Result<bool> {
    Ok(store.credentials("admin").await?.is_some())
}
