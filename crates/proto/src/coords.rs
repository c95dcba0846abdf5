//! WGS-84 ↔ GCJ-02. Devices report WGS-84 (GPS); Chinese web maps (AMap/Gaode, Tencent) draw
//! GCJ-02, the officially offset datum, so a WGS-84 point shown on them lands 100–700 m off.
//!
//! The forward transform is the standard published one (Krasovsky 1940 ellipsoid, a
//! rectangular "inside China" test); the inverse has no closed form and is solved by fixed-point
//! iteration to well under a millimetre. Arguments and results are `(lat, lon)` in degrees.

use std::f64::consts::PI;

/// Krasovsky 1940 semi-major axis, metres.
const A: f64 = 6_378_245.0;
/// Krasovsky 1940 first eccentricity squared.
const EE: f64 = 0.006_693_421_622_965_943;

/// Whether the point lies outside the rectangle where GCJ-02 applies (the usual
/// `72.004..=137.8347` E, `0.8293..=55.8271` N box); such points are not shifted.
/// Non-finite coordinates count as outside.
pub fn out_of_china(lat: f64, lon: f64) -> bool {
    !((72.004..=137.8347).contains(&lon) && (0.8293..=55.8271).contains(&lat))
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 offset `(dlat, dlon)` at a WGS-84 point inside China.
fn delta(lat: f64, lon: f64) -> (f64, f64) {
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let rad = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * rad.cos() * PI);
    (dlat, dlon)
}

/// WGS-84 → GCJ-02. Points outside China are returned unchanged.
pub fn wgs84_to_gcj02(lat: f64, lon: f64) -> (f64, f64) {
    if out_of_china(lat, lon) {
        return (lat, lon);
    }
    let (dlat, dlon) = delta(lat, lon);
    (lat + dlat, lon + dlon)
}

/// GCJ-02 → WGS-84, the inverse of [`wgs84_to_gcj02`] to better than 1 mm (the usual
/// one-step "subtract the offset" approximation is off by up to a few metres).
/// Points outside China are returned unchanged.
pub fn gcj02_to_wgs84(lat: f64, lon: f64) -> (f64, f64) {
    if out_of_china(lat, lon) {
        return (lat, lon);
    }
    // Fixed point: w ← w − (forward(w) − g). The offset changes slowly with position, so
    // each step gains about four decimal digits; 1e-10° is about 0.01 mm.
    let (mut wlat, mut wlon) = (lat, lon);
    for _ in 0..20 {
        let (glat, glon) = wgs84_to_gcj02(wlat, wlon);
        let (elat, elon) = (glat - lat, glon - lon);
        wlat -= elat;
        wlon -= elon;
        if elat.abs() < 1e-10 && elon.abs() < 1e-10 {
            break;
        }
    }
    (wlat, wlon)
}

/// Great-circle distance in metres between two points (haversine, mean Earth radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = la2 - la1;
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64), tol_deg: f64) -> bool {
        (a.0 - b.0).abs() < tol_deg && (a.1 - b.1).abs() < tol_deg
    }

    /// Published reference pairs (WGS-84 → GCJ-02) of widely used open implementations of the
    /// same algorithm (the JavaScript `coordtransform` package and the `eviltransform` suites).
    const REFERENCE: [((f64, f64), (f64, f64)); 4] = [
        ((39.915, 116.404), (39.91640428150164, 116.41024449916938)), // Beijing
        ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)), // Beijing
        ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)), // Shanghai
        ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)), // Shenzhen
    ];

    #[test]
    fn forward_matches_published_values() {
        for (wgs, gcj) in REFERENCE {
            let got = wgs84_to_gcj02(wgs.0, wgs.1);
            assert!(close(got, gcj, 1e-9), "{wgs:?}: {got:?} vs {gcj:?}");
        }
    }

    #[test]
    fn inverse_recovers_published_inputs() {
        for (wgs, gcj) in REFERENCE {
            let back = gcj02_to_wgs84(gcj.0, gcj.1);
            assert!(distance_m(back, wgs) < 0.01, "{gcj:?}: {back:?} vs {wgs:?}");
        }
    }

    #[test]
    fn inverse_is_accurate_over_china() {
        let mut worst: f64 = 0.0;
        let mut lat = 18.0;
        while lat <= 53.5 {
            let mut lon = 73.5;
            while lon <= 135.0 {
                let g = wgs84_to_gcj02(lat, lon);
                let w = gcj02_to_wgs84(g.0, g.1);
                worst = worst.max(distance_m(w, (lat, lon)));
                lon += 0.37;
            }
            lat += 0.29;
        }
        assert!(worst < 0.5, "worst round-trip error {worst} m");
        assert!(worst < 0.001, "worst round-trip error {worst} m");
    }

    #[test]
    fn offset_is_hundreds_of_metres_in_china() {
        let w = (39.9, 116.4);
        let d = distance_m(w, wgs84_to_gcj02(w.0, w.1));
        assert!((100.0..1000.0).contains(&d), "{d}");
    }

    #[test]
    fn outside_china_is_unchanged() {
        for p in [(48.8566, 2.3522), (0.0, 0.0), (-33.87, 151.21), (60.0, 100.0), (f64::NAN, 116.0)] {
            let f = wgs84_to_gcj02(p.0, p.1);
            let b = gcj02_to_wgs84(p.0, p.1);
            assert!(f.0.to_bits() == p.0.to_bits() && f.1 == p.1);
            assert!(b.0.to_bits() == p.0.to_bits() && b.1 == p.1);
        }
        assert!(out_of_china(f64::INFINITY, 116.0));
    }
}
