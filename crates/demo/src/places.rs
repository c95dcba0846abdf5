//! Where things are: a centre for each street and community inside the real outline, and
//! random points near a centre that stay inside it.

use rand::Rng;

use crate::boundary::Boundary;
use crate::divisions::Divisions;

/// A (lat, lon) pair in WGS-84 degrees.
pub type LatLon = (f64, f64);

/// Street and community centres, indexed like `Divisions::streets` / `communities`.
#[derive(Debug, Clone, PartialEq)]
pub struct Places {
    pub streets: Vec<LatLon>,
    pub communities: Vec<LatLon>,
}

/// How far from the outline a community centre keeps, so homes within this distance of it
/// (see [`HOME_RADIUS_M`]) are almost always inside without many retries.
const COMMUNITY_MARGIN_M: f64 = 400.0;
/// Homes are scattered within this distance of their community centre.
pub const HOME_RADIUS_M: f64 = 400.0;
/// Streets whose share of villages is at least this are outer (suburban) streets.
const OUTER_VILLAGE_SHARE: f64 = 0.3;
/// Inner streets sit within this distance of the district's centre, outer ones beyond it.
const INNER_RADIUS_M: f64 = 5_000.0;

/// A uniformly random point inside the outline's bounding box.
fn random_in_bbox<R: Rng>(rng: &mut R, b: &Boundary) -> LatLon {
    let (min_lat, min_lon, max_lat, max_lon) = b.bbox();
    (rng.random_range(min_lat..max_lat), rng.random_range(min_lon..max_lon))
}

fn dist2(b: &Boundary, p: LatLon, q: LatLon) -> f64 {
    let (x0, y0) = b.to_metres(p.0, p.1);
    let (x1, y1) = b.to_metres(q.0, q.1);
    (x0 - x1).powi(2) + (y0 - y1).powi(2)
}

/// A uniformly random point within `radius_m` of `centre` (area-uniform).
pub fn near<R: Rng>(rng: &mut R, b: &Boundary, centre: LatLon, radius_m: f64) -> LatLon {
    let r = radius_m * rng.random::<f64>().sqrt();
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    b.offset(centre.0, centre.1, r * a.cos(), r * a.sin())
}

/// A random point within `radius_m` of `centre` that is inside the outline; `centre` itself
/// if 64 tries all fall outside (only possible for a centre right on the edge).
pub fn near_inside<R: Rng>(rng: &mut R, b: &Boundary, centre: LatLon, radius_m: f64) -> LatLon {
    for _ in 0..64 {
        let p = near(rng, b, centre, radius_m);
        if b.contains(p.0, p.1) {
            return p;
        }
    }
    centre
}

impl Places {
    /// Street centres by best-candidate sampling (mostly urban streets near the centre of the
    /// district, streets with many villages farther out), then communities clustered around
    /// their street's centre: communities within ~1 km, villages 1.5–3.5 km out.
    pub fn generate<R: Rng>(rng: &mut R, b: &Boundary, d: &Divisions) -> Places {
        let centroid = b.centroid();
        let mut streets: Vec<LatLon> = Vec::with_capacity(d.streets.len());
        for s in &d.streets {
            let villages = s.communities.iter().filter(|&&c| d.communities[c].village).count();
            let outer = villages as f64 / s.communities.len() as f64 >= OUTER_VILLAGE_SHARE;
            let mut best: Option<(f64, LatLon)> = None;
            let mut candidates = 0;
            for _ in 0..10_000 {
                let p = random_in_bbox(rng, b);
                let from_centre = dist2(b, p, centroid).sqrt();
                if !b.contains_with_margin(p.0, p.1, 1_200.0) || (from_centre < INNER_RADIUS_M) == outer {
                    continue;
                }
                let score = streets.iter().map(|&q| dist2(b, p, q)).fold(f64::INFINITY, f64::min);
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, p));
                }
                candidates += 1;
                if candidates == 12 {
                    break;
                }
            }
            streets.push(best.map_or(centroid, |(_, p)| p));
        }

        let mut communities = vec![centroid; d.communities.len()];
        for (si, s) in d.streets.iter().enumerate() {
            let mut placed: Vec<LatLon> = Vec::new();
            for &ci in &s.communities {
                let village = d.communities[ci].village;
                let mut spot = None;
                for attempt in 0..400 {
                    let (r, a) = if village {
                        (rng.random_range(1_500.0..3_500.0), rng.random_range(0.0..std::f64::consts::TAU))
                    } else {
                        (1_000.0 * rng.random::<f64>().sqrt(), rng.random_range(0.0..std::f64::consts::TAU))
                    };
                    let p = b.offset(streets[si].0, streets[si].1, r * a.cos(), r * a.sin());
                    // Keep neighbours apart; relax the spacing if the street is crowded.
                    let spacing = if attempt < 200 { 250.0f64 } else { 0.0 };
                    if b.contains_with_margin(p.0, p.1, COMMUNITY_MARGIN_M)
                        && placed.iter().all(|&q| dist2(b, p, q) >= spacing.powi(2))
                    {
                        spot = Some(p);
                        break;
                    }
                }
                let p = spot.unwrap_or(streets[si]);
                placed.push(p);
                communities[ci] = p;
            }
        }
        Places { streets, communities }
    }
}
