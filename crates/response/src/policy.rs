//! Response targets per region: the longest configured region prefix wins.

use zhulao_alarms::Policy;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Policies {
    #[serde(default)]
    pub default: Policy,
    /// Region code prefix → policy, for districts or streets with their own targets.
    #[serde(default)]
    pub regions: std::collections::BTreeMap<String, Policy>,
}

impl Policies {
    pub fn for_region(&self, region_code: &str) -> &Policy {
        self.regions
            .iter()
            .filter(|(prefix, _)| region_code.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| p)
            .unwrap_or(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut p = Policies::default();
        p.regions.insert("140213".into(), Policy { answer_target_s: 20, ..Policy::default() });
        p.regions.insert("140213050".into(), Policy { answer_target_s: 15, ..Policy::default() });
        assert_eq!(p.for_region("140213050002").answer_target_s, 15);
        assert_eq!(p.for_region("140213051001").answer_target_s, 20);
        assert_eq!(p.for_region("140214000000").answer_target_s, 30);
    }
}
