//! Accounts: admin, supervisor, call-centre operators, caregivers, care managers (one per
//! ~20 elders of neighbouring communities), station staff and a few family members.

use rand::Rng;
use rand::seq::index::sample;
use zhulao_domain::{AccountInput, Role};

use crate::divisions::Divisions;
use crate::elders::{Elders, apportion};
use crate::facilities::Facilities;
use crate::names::{Generation, Namer, pick_weighted};
use crate::{AccountSpec, DEMO_PASSWORD};

pub const OPERATORS: usize = 6;
/// 二七's ratio: one care manager (养老管家) per 20 elders.
pub const ELDERS_PER_MANAGER: usize = 20;
/// Caregivers per 100 elders (60 for the default 2,000).
pub const CAREGIVERS_PER_100: usize = 3;
/// Share of elders with a family member's account.
pub const FAMILY_SHARE: f64 = 0.05;
/// The first facility with its own staff account: below the district and street centres.
const FIRST_STAFFED_FACILITY: usize = 19;

/// The service catalogue's skill codes, so caregivers are offered the orders they can do.
const SKILLS: [&str; 12] = crate::services::CAREGIVER_SKILLS;
const CAREGIVER_CERTS: [(&str, f64); 4] = [
    ("养老护理员(五级)", 30.0),
    ("养老护理员(四级)", 40.0),
    ("养老护理员(三级)", 22.0),
    ("护士执业证书", 8.0),
];

#[derive(Debug)]
pub struct Staff {
    pub accounts: Vec<AccountSpec>,
    /// Account index of each elder's care manager, parallel to the elders.
    pub managers_of_elders: Vec<usize>,
}

struct Accounts<'a, R> {
    rng: &'a mut R,
    namer: &'a mut Namer,
    out: Vec<AccountSpec>,
}

impl<R: Rng> Accounts<'_, R> {
    fn add(&mut self, username: String, role: Role, region: &str) -> &mut AccountSpec {
        let female = self.rng.random_bool(0.6);
        let display_name = self.namer.full(self.rng, female, Generation::Young);
        let phone = self.namer.mobile(self.rng);
        self.out.push(AccountSpec {
            input: AccountInput {
                username,
                display_name,
                role: role.as_str().to_string(),
                password: DEMO_PASSWORD.to_string(),
                phone,
                region_code: region.to_string(),
                ..AccountInput::default()
            },
            facility: None,
            elder: None,
        });
        self.out.last_mut().expect("just pushed")
    }
}

pub fn generate<R: Rng>(
    rng: &mut R,
    d: &Divisions,
    f: &Facilities,
    elders: &Elders,
    namer: &mut Namer,
) -> Staff {
    let n = elders.elders.len();
    let county = d.county.as_str();
    let mut a = Accounts { rng, namer, out: Vec::new() };

    a.add("admin".into(), Role::Admin, county).input.display_name = "系统管理员".into();
    a.add("supervisor".into(), Role::Supervisor, county);
    for k in 1..=OPERATORS {
        a.add(format!("operator{k}"), Role::Operator, county);
    }

    // Elders per street, in street order (elders are grouped by community, in division order).
    let mut street_elders: Vec<Vec<usize>> = vec![Vec::new(); d.streets.len()];
    for (i, t) in elders.traits.iter().enumerate() {
        street_elders[d.communities[t.community].street].push(i);
    }
    let street_weights: Vec<f64> = street_elders.iter().map(|e| e.len() as f64 + 0.01).collect();

    // Caregivers: at least one per street, the rest where the elders are.
    let caregivers = (n * CAREGIVERS_PER_100).div_ceil(100).max(d.streets.len());
    let mut per_street = apportion(caregivers - d.streets.len(), &street_weights);
    per_street.iter_mut().for_each(|c| *c += 1);
    let cert_weights: Vec<f64> = CAREGIVER_CERTS.iter().map(|c| c.1).collect();
    let mut k = 0;
    for (si, &count) in per_street.iter().enumerate() {
        for _ in 0..count {
            k += 1;
            let how_many = a.rng.random_range(3..=5);
            let mut skills = sample(a.rng, SKILLS.len(), how_many).into_vec();
            skills.sort_unstable();
            let mut certificates = vec![CAREGIVER_CERTS[pick_weighted(a.rng, &cert_weights)].0];
            if a.rng.random_bool(0.3) {
                certificates.push("红十字救护员证");
            }
            let code = d.streets[si].code.as_str().to_string();
            let acc = a.add(format!("caregiver{k}"), Role::Caregiver, &code);
            acc.input.skills = skills.into_iter().map(|s| SKILLS[s].to_string()).collect();
            acc.input.certificates = certificates.into_iter().map(String::from).collect();
        }
    }

    // Care managers: n/20 in all, shared out over the streets by their elders, each looking
    // after a run of ~20 elders of neighbouring communities in one street.
    let managers = n.div_ceil(ELDERS_PER_MANAGER).max(usize::from(n > 0));
    let mut per_street = apportion(managers, &street_weights);
    for (si, m) in per_street.iter_mut().enumerate() {
        let e = street_elders[si].len();
        *m = if e == 0 { 0 } else { (*m).clamp(1, e) };
    }
    let mut managers_of_elders = vec![0usize; n];
    let mut k = 0;
    for (si, &m) in per_street.iter().enumerate() {
        let list = &street_elders[si];
        for j in 0..m {
            k += 1;
            let idx = a.out.len();
            let code = d.streets[si].code.as_str().to_string();
            let mut certificates = Vec::new();
            if a.rng.random_bool(0.5) {
                certificates.push("养老护理员(三级)".to_string());
            }
            if a.rng.random_bool(0.3) {
                certificates.push("助理社会工作师".to_string());
            }
            a.add(format!("manager{k}"), Role::CareManager, &code).input.certificates = certificates;
            // The j-th of m even runs of this street's elders.
            for &e in &list[j * list.len() / m..(j + 1) * list.len() / m] {
                managers_of_elders[e] = idx;
            }
        }
    }

    // Station staff: one per facility below the street level.
    for (k, fi) in (FIRST_STAFFED_FACILITY..f.inputs.len()).enumerate() {
        let region = f.inputs[fi].region_code.clone();
        a.add(format!("station{}", k + 1), Role::StationStaff, &region).facility = Some(fi);
    }

    // Family: 5% of elders, as their first emergency contact.
    let families = (n as f64 * FAMILY_SHARE).round() as usize;
    let mut chosen = sample(a.rng, n, families).into_vec();
    chosen.sort_unstable();
    for (k, e) in chosen.into_iter().enumerate() {
        let contact = &elders.elders[e].input.contacts[0];
        a.out.push(AccountSpec {
            input: AccountInput {
                username: format!("family{}", k + 1),
                display_name: contact.name.clone(),
                role: Role::Family.as_str().to_string(),
                password: DEMO_PASSWORD.to_string(),
                phone: contact.phone.clone(),
                ..AccountInput::default()
            },
            facility: None,
            elder: Some(e),
        });
    }
    Staff { accounts: a.out, managers_of_elders }
}
