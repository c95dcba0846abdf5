//! The time bank (时间银行) through the store: hours recorded and decided, the double-entry
//! ledger with guarded debits, redemption, and pairing suggestions.

use chrono::{DateTime, Utc};
use zhulao_domain::{ElderScope, FieldError, LivingArrangement};
use zhulao_services::SkillCode;
use zhulao_services::catalogue::ServiceCategory;
use zhulao_services::order::OrderActor;
use zhulao_services::timebank::{
    ElderNeed, HourRecord, Pairing, PairingPolicy, Posting, PostingKind, TimeAccount, Volunteer, pair,
};
use zhulao_store::{ElderFilter, HourRow, StoreError, TimeBalance};

use crate::error::{ServiceError, ServiceResult};
use crate::service::{Orders, RETRIES, store_actor};

fn refusal(e: zhulao_services::timebank::TimeBankError) -> ServiceError {
    match e {
        zhulao_services::timebank::TimeBankError::Invalid(f) => ServiceError::field(f),
        e => ServiceError::refused(&e),
    }
}

fn conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(f) => ServiceError::Refused { code: f.code, zh: f.zh, en: f.en },
        e => e.into(),
    }
}

impl Orders {
    /// A volunteer records minutes served to an elder (recorded by station staff or a care
    /// manager for them); they wait for confirmation in the volunteer's pending account.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_hours(
        &self,
        by: OrderActor,
        volunteer: i64,
        elder: i64,
        minutes: u32,
        served_at: DateTime<Utc>,
        activity: ServiceCategory,
        note: &str,
    ) -> ServiceResult<HourRow> {
        if volunteer == elder {
            return Err(ServiceError::field(FieldError::new(
                "elder_id",
                "timebank_self",
                "志愿者不能为自己登记服务时长",
                "a volunteer cannot record time served to themselves",
            )));
        }
        let (record, _) =
            HourRecord::record(0, volunteer, elder, minutes, served_at, activity, note, self.now())
                .map_err(refusal)?;
        self.store.record_hours(&record, store_actor(&by)).await.map_err(conflict)
    }

    /// Confirms (banks) or rejects recorded minutes.
    pub async fn decide_hours(&self, id: i64, by: OrderActor, confirm: bool) -> ServiceResult<HourRow> {
        for _ in 0..RETRIES {
            let row = self.store.hour_record(id).await?;
            let mut record = row.record.clone();
            let now = self.now();
            let posting = if confirm { record.confirm(id, by, now) } else { record.reject(id, by, now) }
                .map_err(refusal)?;
            match self.store.decide_hours(id, row.version, &record, &posting, store_actor(&by)).await {
                Err(StoreError::Stale { .. }) => continue,
                r => return r.map_err(conflict),
            }
        }
        Err(ServiceError::refuse(
            "timebank_busy",
            "记录正在被修改，请重试",
            "the record is being changed; retry",
        ))
    }

    /// Spends banked minutes on a service (never below zero: the store's guard refuses).
    pub async fn redeem(
        &self,
        by: OrderActor,
        volunteer: i64,
        minutes: u32,
        reference: Option<i64>,
    ) -> ServiceResult<TimeBalance> {
        if minutes == 0 || minutes > 100 * 60 {
            return Err(ServiceError::field(FieldError::new(
                "minutes",
                "out_of_range",
                "兑换时长应在1至6000分钟之间",
                "redeem 1 to 6000 minutes",
            )));
        }
        let posting = Posting {
            at: self.now(),
            kind: PostingKind::Redeem,
            debit: TimeAccount::Volunteer { id: volunteer },
            credit: TimeAccount::Redeemed,
            minutes,
            reference,
        };
        self.store.post_minutes(&posting, store_actor(&by)).await.map_err(conflict)?;
        Ok(self.store.time_balance(volunteer).await?)
    }

    /// Suggested volunteer–elder pairs in a region: 80+ living alone first, each with the
    /// nearest volunteer who has room (`timebank::pair`).
    pub async fn pairing_suggestions(&self, region_prefix: Option<&str>) -> ServiceResult<Pairing> {
        let volunteers = self.store.volunteers(region_prefix).await?;
        let mut vs = Vec::new();
        for v in &volunteers {
            let e = self.store.elder(v.elder_id).await?;
            if let Some(position) = e.record.location {
                vs.push(Volunteer {
                    id: v.elder_id,
                    position,
                    skills: v.skills.iter().filter_map(|s| SkillCode::parse("skills", s).ok()).collect(),
                    capacity: v.capacity,
                    paired: v.paired,
                });
            }
        }
        let paired: std::collections::HashSet<i64> =
            self.store.pairs(None).await?.into_iter().map(|p| p.elder_id).collect();
        let today = self.clock.today();
        let eighty = today.checked_sub_months(chrono::Months::new(12 * 80)).unwrap_or(today);
        let scope = region_prefix.map_or(ElderScope::All, |p| ElderScope::RegionPrefix(p.to_string()));
        let mut needs = Vec::new();
        for f in [
            ElderFilter {
                living: Some(LivingArrangement::Alone),
                limit: 2000,
                ..ElderFilter::scoped(scope.clone())
            },
            ElderFilter {
                born_on_or_before: Some(eighty),
                limit: 2000,
                ..ElderFilter::scoped(scope.clone())
            },
        ] {
            for e in self.store.list_elders(&f).await?.items {
                let volunteering = volunteers.iter().any(|v| v.elder_id == e.id);
                if paired.contains(&e.id) || volunteering || needs.iter().any(|n: &ElderNeed| n.elder == e.id)
                {
                    continue;
                }
                let Some(position) = e.record.location else { continue };
                let age = zhulao_domain::elder::age_on(e.record.birth_date, today).clamp(0, 255) as u8;
                needs.push(ElderNeed {
                    elder: e.id,
                    age,
                    living_alone: e.record.living == LivingArrangement::Alone,
                    position,
                    needs: Vec::new(),
                });
            }
        }
        Ok(pair(&vs, &needs, &PairingPolicy::default()))
    }
}
