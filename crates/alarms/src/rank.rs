//! Which responder to send: the nearest available one by estimated travel time.

use serde::{Deserialize, Serialize};
use zhulao_domain::GeoPoint;

/// How a responder moves through the district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TravelMode {
    Walk,
    /// Electric bicycle, the usual way caregivers get around a Chinese district.
    EBike,
    Car,
}

impl TravelMode {
    /// Typical door-to-door speed in a city, metres per second.
    fn speed_mps(self) -> f64 {
        match self {
            TravelMode::Walk => 1.2,
            TravelMode::EBike => 4.0,
            TravelMode::Car => 6.5,
        }
    }
}

/// A responder who could go: a caregiver on duty or a station's staff member.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub account_id: i64,
    pub at: GeoPoint,
    pub mode: TravelMode,
}

/// Streets are not straight lines: the usual ratio of road to crow-flies distance in a
/// Chinese urban grid.
const DETOUR: f64 = 1.35;
/// Getting out of the door, parking, finding the flat.
const OVERHEAD_S: f64 = 60.0;

/// Candidates not in `exclude`, fastest first, with their estimated travel time in seconds.
/// Ties go to the lower account id, so the choice is reproducible.
pub fn rank_by_eta(target: GeoPoint, candidates: &[Candidate], exclude: &[i64]) -> Vec<(i64, u32)> {
    let mut out: Vec<(i64, u32)> = candidates
        .iter()
        .filter(|c| !exclude.contains(&c.account_id))
        .map(|c| {
            let eta = OVERHEAD_S + c.at.distance_m(target) * DETOUR / c.mode.speed_mps();
            (c.account_id, eta.round().clamp(0.0, u32::MAX as f64) as u32)
        })
        .collect();
    out.sort_by_key(|&(id, eta)| (eta, id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bike_far_away_can_beat_a_walker_nearby() {
        let home = GeoPoint { lat: 40.0769, lon: 113.3001 };
        let near_walker =
            Candidate { account_id: 1, at: GeoPoint { lat: 40.0809, lon: 113.3001 }, mode: TravelMode::Walk };
        let far_bike = Candidate {
            account_id: 2,
            at: GeoPoint { lat: 40.0869, lon: 113.3001 },
            mode: TravelMode::EBike,
        };
        let ranked = rank_by_eta(home, &[near_walker, far_bike], &[]);
        assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 1]);
        // 445 m × 1.35 / 1.2 + 60 ≈ 560 s.
        assert!((550..570).contains(&ranked[1].1), "{ranked:?}");
        assert_eq!(rank_by_eta(home, &[near_walker, far_bike], &[2]), vec![ranked[1]]);
    }
}
