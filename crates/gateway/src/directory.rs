//! The device directory: every registered device with what the gateway needs to know about
//! it (its elder, region, contacts, home, monitoring settings, learnt upright), loaded in bulk
//! before the stream starts (so 20,000 devices coming online do not mean 20,000 queries in the
//! stream's path), refreshed in the background, and looked up one by one for a device
//! registered since.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use zhulao_domain::{GeoPoint, MonitoringSettings};
use zhulao_store::Store;

/// What the gateway needs to know about a device: loaded in bulk at start (so 20,000 devices
/// coming online do not mean 20,000 queries in the stream's path) and refreshed in the
/// background.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub device_id: i64,
    pub elder_id: Option<i64>,
    pub region: String,
    pub contacts: usize,
    pub home: Option<GeoPoint>,
    pub monitoring: Arc<MonitoringSettings>,
    /// The upright direction the device's detector learnt before (kept in its state).
    pub upright: Option<[f32; 3]>,
}

pub(crate) type Directory = Arc<RwLock<HashMap<String, Known>>>;

/// Every active device with its elder's region, contact count and home, in two paged scans.
async fn load_directory(
    store: &dyn Store,
    default_region: &str,
) -> zhulao_store::Result<HashMap<String, Known>> {
    const PAGE: i64 = 10_000;
    let mut elders = HashMap::new();
    let mut f = zhulao_store::ElderFilter::scoped(zhulao_domain::ElderScope::All);
    f.limit = PAGE;
    loop {
        let page = store.list_elders(&f).await?;
        let n = page.items.len() as i64;
        for e in page.items {
            elders.insert(
                e.id,
                (
                    e.record.region.as_str().to_string(),
                    e.record.contacts.len(),
                    e.record.location,
                    Arc::new(e.monitoring),
                ),
            );
        }
        if n < PAGE {
            break;
        }
        f.offset += PAGE;
    }
    let uprights: HashMap<i64, [f32; 3]> = store.learnt_uprights().await?.into_iter().collect();
    let mut out = HashMap::new();
    let mut f = zhulao_store::DeviceFilter {
        scope: zhulao_domain::ElderScope::All,
        include_unbound: true,
        elder_id: None,
        offset: 0,
        limit: PAGE,
    };
    loop {
        let page = store.list_devices(&f).await?;
        let n = page.items.len() as i64;
        for d in page.items.into_iter().filter(|d| d.active) {
            let elder = d.elder_id.and_then(|e| elders.get(&e));
            out.insert(
                d.serial,
                Known {
                    device_id: d.id,
                    elder_id: d.elder_id,
                    region: elder.map_or_else(|| default_region.to_string(), |e| e.0.clone()),
                    contacts: elder.map_or(0, |e| e.1),
                    home: elder.and_then(|e| e.2),
                    monitoring: elder.map_or_else(Arc::default, |e| e.3.clone()),
                    upright: uprights.get(&d.id).copied(),
                },
            );
        }
        if n < PAGE {
            break;
        }
        f.offset += PAGE;
    }
    Ok(out)
}

pub(crate) async fn refresh_directory(store: &dyn Store, default_region: &str, directory: &Directory) {
    let started = Instant::now();
    match load_directory(store, default_region).await {
        Ok(map) => {
            tracing::info!(
                devices = map.len(),
                ms = started.elapsed().as_millis() as u64,
                "device directory loaded"
            );
            *directory.write().expect("directory lock") = map;
        }
        Err(e) => {
            tracing::warn!(error = %e, "device directory could not be loaded; devices are looked up one by one")
        }
    }
}

/// One device, from the registry.
pub(crate) async fn lookup(
    store: &dyn Store,
    serial: &str,
    default_region: &str,
) -> zhulao_store::Result<Option<Known>> {
    let Some((d, _)) = store.device_by_serial(serial).await? else { return Ok(None) };
    if !d.active {
        return Ok(None);
    }
    let elder = match d.elder_id {
        Some(id) => Some(store.elder(id).await?),
        None => None,
    };
    Ok(Some(Known {
        device_id: d.id,
        elder_id: d.elder_id,
        region: elder
            .as_ref()
            .map_or_else(|| default_region.to_string(), |e| e.record.region.as_str().to_string()),
        contacts: elder.as_ref().map_or(0, |e| e.record.contacts.len()),
        home: elder.as_ref().and_then(|e| e.record.location),
        monitoring: Arc::new(elder.map(|e| e.monitoring).unwrap_or_default()),
        upright: store.device_state(d.id).await?.and_then(|s| s.upright),
    }))
}

/// Devices are looked up again this often (binding, elder, contacts may change).
pub(crate) const REFRESH: Duration = Duration::from_secs(300);
/// An unknown serial is looked up again after this long.
pub(crate) const UNKNOWN_TTL: Duration = Duration::from_secs(30);

/// Serials the registry did not know, refused without asking it again for [`UNKNOWN_TTL`]:
/// a stranger hammering the broker costs one lookup per 30 s, not one per message.
#[derive(Debug, Default)]
pub(crate) struct Strangers(HashMap<String, Instant>);

impl Strangers {
    /// Whether `serial` was looked up and not found less than [`UNKNOWN_TTL`] before `now`.
    pub(crate) fn known_stranger(&self, serial: &str, now: Instant) -> bool {
        self.0.get(serial).is_some_and(|t| now.saturating_duration_since(*t) < UNKNOWN_TTL)
    }

    /// The registry did not know `serial` at `now`.
    pub(crate) fn note(&mut self, serial: &str, now: Instant) {
        if self.0.len() >= MAX_STRANGERS {
            self.0.retain(|_, t| now.saturating_duration_since(*t) < UNKNOWN_TTL);
            if self.0.len() >= MAX_STRANGERS {
                // A flood of invented serials: forget them all (each costs one lookup again)
                // rather than grow, or scan the table on every insert.
                self.0.clear();
            }
        }
        self.0.insert(serial.to_string(), now);
    }
}

/// Bounds the strangers remembered: past it, expired entries are dropped.
const MAX_STRANGERS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_serial_is_refused_without_a_lookup_for_a_while_then_asked_again() {
        let mut s = Strangers::default();
        let t0 = Instant::now();
        assert!(!s.known_stranger("ZL-X", t0), "the first message is looked up");
        s.note("ZL-X", t0);
        assert!(s.known_stranger("ZL-X", t0 + Duration::from_secs(29)));
        assert!(!s.known_stranger("ZL-Y", t0 + Duration::from_secs(1)));
        assert!(!s.known_stranger("ZL-X", t0 + UNKNOWN_TTL), "registered since, perhaps: ask again");
        for i in 0..MAX_STRANGERS + 5 {
            s.note(&format!("S{i}"), t0 + UNKNOWN_TTL * 2);
        }
        assert!(!s.0.contains_key("ZL-X"), "expired strangers are dropped when the table is full");
        // A flood within the TTL: the table stays bounded.
        for i in 0..3 * MAX_STRANGERS {
            s.note(&format!("F{i}"), t0 + UNKNOWN_TTL * 3);
        }
        assert!(s.0.len() <= MAX_STRANGERS, "{}", s.0.len());
    }
}
