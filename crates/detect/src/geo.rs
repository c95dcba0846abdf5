//! Small plane geometry for geofences: a local projection around the fix and signed distances.

/// Metres per degree of latitude (mean).
const M_PER_DEG_LAT: f64 = 111_132.0;

/// Projects `(lat, lon)` to metres east/north of `origin` (equirectangular; fine for zones of a few km).
pub(crate) fn project(origin: (f64, f64), p: (f64, f64)) -> (f64, f64) {
    let k = origin.0.to_radians().cos() * M_PER_DEG_LAT;
    ((p.1 - origin.1) * k, (p.0 - origin.0) * M_PER_DEG_LAT)
}

fn seg_dist(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt()
}

/// Signed distance in metres from the origin point to a polygon given in `(lat, lon)`:
/// positive inside, negative outside. Degenerate polygons are "far outside".
pub(crate) fn polygon_depth(origin: (f64, f64), poly: &[(f64, f64)]) -> f64 {
    if poly.len() < 3 {
        return f64::NEG_INFINITY;
    }
    let mut inside = false;
    let mut dist = f64::INFINITY;
    let p = (0.0, 0.0);
    let mut prev = project(origin, poly[poly.len() - 1]);
    for &v in poly {
        let cur = project(origin, v);
        if (cur.1 > p.1) != (prev.1 > p.1) {
            let x = prev.0 + (p.1 - prev.1) * (cur.0 - prev.0) / (cur.1 - prev.1);
            if p.0 < x {
                inside = !inside;
            }
        }
        dist = dist.min(seg_dist(p, prev, cur));
        prev = cur;
    }
    if inside { dist } else { -dist }
}

/// Signed distance in metres from `p` to a circle: positive inside.
pub(crate) fn circle_depth(p: (f64, f64), center: (f64, f64), radius_m: f64) -> f64 {
    let (x, y) = project(p, center);
    radius_m - (x * x + y * y).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths() {
        let c = (40.0, 113.3);
        assert!((circle_depth(c, c, 100.0) - 100.0).abs() < 1e-9);
        let p = (40.0 + 200.0 / M_PER_DEG_LAT, 113.3);
        assert!((circle_depth(p, c, 100.0) + 100.0).abs() < 0.5);
        let d = 0.001; // ≈ 111 m of latitude
        let square =
            [(40.0 - d, 113.3 - d), (40.0 - d, 113.3 + d), (40.0 + d, 113.3 + d), (40.0 + d, 113.3 - d)];
        assert!((polygon_depth(c, &square) - 85.1).abs() < 1.0); // nearest edge: east/west, 0.001° lon
        assert!(polygon_depth((40.0 + 2.0 * d, 113.3), &square) < -100.0);
        assert_eq!(polygon_depth(c, &square[..2]), f64::NEG_INFINITY);
    }
}
