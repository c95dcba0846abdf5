//! The district's real division list (1 county, 18 streets, 202 communities and villages)
//! parsed from the embedded CSV into domain `Region`s and a street → community tree.

use zhulao_domain::{Region, RegionCode, RegionLevel};

/// `code,name,level,parent_code`, UTF-8; see `data/SOURCES.md`.
pub const DIVISIONS_CSV: &str = include_str!("../data/pingcheng_divisions.csv");

/// A street (街道) and the indices of its communities in [`Divisions::communities`].
#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    pub code: RegionCode,
    /// Official name, e.g. `永泰街道`.
    pub name: String,
    pub communities: Vec<usize>,
}

/// A community (社区) or village (村).
#[derive(Debug, Clone, PartialEq)]
pub struct Community {
    pub code: RegionCode,
    /// Index into [`Divisions::streets`].
    pub street: usize,
    /// The name without the committee suffix: `康吉社区`, `新泉村`.
    pub short: String,
    /// A 村民委员会 rather than a 社区居民委员会.
    pub village: bool,
}

/// The parsed division list.
#[derive(Debug, Clone, PartialEq)]
pub struct Divisions {
    /// In file order: county, then each street followed by its communities.
    pub regions: Vec<Region>,
    pub county: RegionCode,
    pub streets: Vec<Street>,
    pub communities: Vec<Community>,
}

impl Divisions {
    /// Parses the embedded CSV. It is a fixed, tested file, so a malformed row is a bug.
    pub fn pingcheng() -> Divisions {
        Divisions::parse(DIVISIONS_CSV).expect("the embedded division list is well-formed")
    }

    /// Parses `code,name,level,parent_code` rows (header first). The county's parent (a
    /// prefecture outside the district) is kept as the region's parent.
    pub fn parse(csv: &str) -> Result<Divisions, String> {
        let mut regions = Vec::new();
        let mut county = None;
        let mut streets: Vec<Street> = Vec::new();
        let mut communities = Vec::new();
        for (n, line) in csv.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |what: &str| format!("line {}: {what}: {line}", n + 1);
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [code, name, level, parent] = f[..] else { return Err(bad("expected 4 fields")) };
            let code = RegionCode::parse("code", code).map_err(|_| bad("code"))?;
            let parent = RegionCode::parse("parent_code", parent).map_err(|_| bad("parent_code"))?;
            let level =
                level.parse::<i16>().ok().and_then(RegionLevel::from_i16).ok_or_else(|| bad("level"))?;
            if level != code.level() {
                return Err(bad("level does not match the code"));
            }
            match level {
                RegionLevel::County => county = Some(code.clone()),
                RegionLevel::Township => streets.push(Street {
                    code: code.clone(),
                    name: name.to_string(),
                    communities: Vec::new(),
                }),
                RegionLevel::Village => {
                    let street =
                        streets.iter().position(|s| s.code == parent).ok_or_else(|| bad("unknown street"))?;
                    let (short, village) = match name.strip_suffix("村民委员会") {
                        Some(s) => (s.to_string(), true),
                        None => (name.strip_suffix("居民委员会").unwrap_or(name).to_string(), false),
                    };
                    streets[street].communities.push(communities.len());
                    communities.push(Community { code: code.clone(), street, short, village });
                }
            }
            regions.push(Region { code, name: name.to_string(), level, parent: Some(parent) });
        }
        let county = county.ok_or("no county row")?;
        Ok(Divisions { regions, county, streets, communities })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_list() {
        let d = Divisions::pingcheng();
        assert_eq!(d.regions.len(), 221);
        assert_eq!(d.county.as_str(), "140213000000");
        assert_eq!(d.streets.len(), 18);
        assert_eq!(d.communities.len(), 202);
        assert_eq!(d.communities.iter().filter(|c| c.village).count(), 47);
        assert_eq!(d.communities[0].short, "康吉社区");
        assert!(d.communities.iter().any(|c| c.short == "田村" && c.village));
        assert!(d.streets.iter().all(|s| !s.communities.is_empty()));
        assert!(Divisions::parse("h\n140213000000,x,2,140200000000\n").is_err());
    }
}
