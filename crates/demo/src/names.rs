//! Chinese names, phone numbers and other small random pickers shared by the generators.

use std::collections::HashSet;

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;

/// `kind,name,weight`; see `data/SOURCES.md`.
pub const NAMES_CSV: &str = include_str!("../data/names.csv");

/// A weighted list of strings.
#[derive(Debug, Clone)]
pub struct Weighted {
    items: Vec<&'static str>,
    index: WeightedIndex<u32>,
}

impl Weighted {
    pub fn new(pairs: &[(&'static str, u32)]) -> Weighted {
        Weighted {
            items: pairs.iter().map(|p| p.0).collect(),
            index: WeightedIndex::new(pairs.iter().map(|p| p.1)).expect("non-empty positive weights"),
        }
    }

    pub fn pick<R: Rng>(&self, rng: &mut R) -> &'static str {
        self.items[self.index.sample(rng)]
    }
}

/// Which generation a given name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Born about 1926–1966.
    Elder,
    /// Born about 1965–1995: children and staff.
    Young,
}

/// Name pools from `names.csv`, and a register of phone numbers already handed out.
#[derive(Debug)]
pub struct Namer {
    surnames: Weighted,
    elder_f: Weighted,
    elder_m: Weighted,
    young_f: Weighted,
    young_m: Weighted,
    phones: HashSet<u64>,
}

impl Default for Namer {
    fn default() -> Self {
        Namer::new()
    }
}

impl Namer {
    pub fn new() -> Namer {
        let mut by_kind: Vec<(&str, Vec<(&'static str, u32)>)> = Vec::new();
        for line in NAMES_CSV.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let mut f = line.split(',');
            let (Some(kind), Some(name), Some(w)) = (f.next(), f.next(), f.next()) else {
                panic!("names.csv: bad row {line}")
            };
            let w: u32 = w.trim().parse().expect("names.csv: weight");
            match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, v)) => v.push((name, w)),
                None => by_kind.push((kind, vec![(name, w)])),
            }
        }
        let list = |kind: &str| {
            let v = &by_kind.iter().find(|(k, _)| *k == kind).expect("names.csv: missing kind").1;
            Weighted::new(v)
        };
        Namer {
            surnames: list("surname"),
            elder_f: list("elder_f"),
            elder_m: list("elder_m"),
            young_f: list("young_f"),
            young_m: list("young_m"),
            phones: HashSet::new(),
        }
    }

    pub fn surname<R: Rng>(&self, rng: &mut R) -> &'static str {
        self.surnames.pick(rng)
    }

    pub fn given<R: Rng>(&self, rng: &mut R, female: bool, generation: Generation) -> &'static str {
        match (generation, female) {
            (Generation::Elder, true) => self.elder_f.pick(rng),
            (Generation::Elder, false) => self.elder_m.pick(rng),
            (Generation::Young, true) => self.young_f.pick(rng),
            (Generation::Young, false) => self.young_m.pick(rng),
        }
    }

    pub fn full<R: Rng>(&self, rng: &mut R, female: bool, generation: Generation) -> String {
        let surname = self.surname(rng);
        format!("{surname}{}", self.given(rng, female, generation))
    }

    /// A mainland mobile number not handed out before in this district.
    pub fn mobile<R: Rng>(&mut self, rng: &mut R) -> String {
        const PREFIXES: [u64; 16] =
            [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 158, 180, 186];
        loop {
            let n = PREFIXES[rng.random_range(0..PREFIXES.len())] * 100_000_000
                + rng.random_range(0..100_000_000);
            if self.phones.insert(n) {
                return n.to_string();
            }
        }
    }

    /// A Datong landline `0352-xxxxxxx` not handed out before.
    pub fn landline<R: Rng>(&mut self, rng: &mut R) -> String {
        const FIRST: [u64; 5] = [2, 5, 6, 7, 8];
        loop {
            let local = FIRST[rng.random_range(0..FIRST.len())] * 1_000_000 + rng.random_range(0..1_000_000);
            // Landlines and mobiles never collide: the key space differs in length.
            if self.phones.insert(local) {
                return format!("0352-{local}");
            }
        }
    }
}

/// Picks an index by weights that need not sum to one.
pub fn pick_weighted<R: Rng>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn names_and_phones() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut n = Namer::new();
        let name = n.full(&mut rng, true, Generation::Elder);
        assert!((2..=4).contains(&name.chars().count()), "{name}");
        let phones: HashSet<String> = (0..2000).map(|_| n.mobile(&mut rng)).collect();
        assert_eq!(phones.len(), 2000);
        assert!(phones.iter().all(|p| zhulao_domain::Phone::parse("p", p).is_ok()));
        let l = n.landline(&mut rng);
        assert_eq!(zhulao_domain::Phone::parse("p", &l).unwrap().as_str(), l);
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            counts[pick_weighted(&mut rng, &[1.0, 2.0, 0.0])] += 1;
        }
        assert!(counts[2] == 0 && counts[1] > counts[0]);
    }
}
