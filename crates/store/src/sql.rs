//! The SQL implementation of [`crate::Store`], written once and instantiated for each
//! backend by `sql_store!`. Both dialects accept the same text: `$N` placeholders (SQLite
//! reads them as numbered parameters), `RETURNING`, `ON CONFLICT … DO UPDATE`, `TRUE`/`FALSE`.
//! Timestamps come from the injected clock.

/// Binds the columns of `ELDER_WRITE_COLUMNS` from an `ElderValues`, in order, with `$method`
/// (`bind` on a query, `push_bind` on a multi-row insert): one list for both.
macro_rules! elder_binds {
    ($target:expr, $method:ident, $v:expr) => {
        $target
            .$method(&$v.id_number)
            .$method(&$v.name)
            .$method($v.sex)
            .$method(&$v.birth_date)
            .$method(&$v.phone)
            .$method(&$v.address)
            .$method($v.lat)
            .$method($v.lon)
            .$method(&$v.region_code)
            .$method($v.hukou)
            .$method($v.living)
            .$method($v.economic)
            .$method($v.capability)
            .$method(&$v.health)
            .$method(&$v.contacts)
            .$method($v.care_manager_id)
            .$method($v.home_station_id)
            .$method(&$v.card_no)
            .$method($v.card_balance_fen)
    };
}

pub(crate) use elder_binds;

/// Implements `Store` for `$store` (a struct with `pool: sqlx::Pool<$db>` and
/// `clock: Arc<dyn Clock>`); `$begin` is the statement that opens a write transaction.
macro_rules! sql_store {
    ($store:ident, $db:ty, $backend:expr, $begin:literal) => {
        use async_trait::async_trait;
        use chrono::{Months, NaiveDate};
        use sqlx::{QueryBuilder, Row};
        use zhulao_domain::{
            Account, Device, DeviceBinding, Elder, ElderRecord, ElderScope, ElderStatus, Facility, FacilityRecord,
            MonitoringSettings, NewAccount, NewDevice, Region, RegionCode, RegionLevel, RegionStats, Role,
        };

        use $crate::error::{Result, StoreError};
        use $crate::rows::*;
        use $crate::{
            AccountFilter, Actor, Assignment, AuditEntry, AuditFilter, Backend, Clock, DeviceFilter, ElderFilter,
            FacilityFilter, ImportSummary, Page, StatusChange, Store,
        };

        type Tx = sqlx::Transaction<'static, $db>;
        type Q<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;

        /// Rows per multi-row statement in bulk writes (well under both backends' bind limits).
        const CHUNK: usize = 400;

        impl $store {
            async fn begin(&self) -> Result<Tx> {
                Ok(self.pool.begin_with($begin).await?)
            }
        }

        fn not_found(entity: &'static str) -> StoreError {
            StoreError::NotFound { entity }
        }

        /// `%fragment%` with LIKE's wildcards escaped (used with `ESCAPE '\'`).
        fn like_contains(s: &str) -> String {
            let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        }

        // One entry's columns; a struct would only rename them.
        #[allow(clippy::too_many_arguments)]
        async fn audit(
            tx: &mut Tx,
            at: i64,
            actor: Actor,
            action: &str,
            entity: &str,
            entity_id: impl ToString,
            before: Option<String>,
            after: Option<String>,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, before, after) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(at)
            .bind(actor.account_id)
            .bind(action)
            .bind(entity)
            .bind(entity_id.to_string())
            .bind(before)
            .bind(after)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        fn bind_elder<'q>(q: Q<'q>, v: &'q ElderValues) -> Q<'q> {
            $crate::sql::elder_binds!(q, bind, v)
        }

        /// The elder columns a write sets, in `elder_binds!` order.
        const ELDER_WRITE_COLUMNS: &str = "id_number, name, sex, birth_date, phone, address, lat, lon, \
             region_code, hukou, living, economic, capability, health, contacts, care_manager_id, \
             home_station_id, card_no, card_balance_fen";

        /// `UPDATE elders SET <columns> = $1..$19, updated_at = $20 … WHERE id = $21`.
        fn elder_update_sql() -> String {
            let sets = ELDER_WRITE_COLUMNS
                .split(", ")
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 1))
                .collect::<Vec<_>>()
                .join(", ");
            format!("UPDATE elders SET {sets}, updated_at = $20, version = version + 1 WHERE id = $21")
        }

        /// `Stale` when the caller expected another version than the stored one.
        fn check_version(current: i64, expected: Option<i64>) -> Result<()> {
            match expected {
                Some(v) if v != current => Err(StoreError::Stale { current }),
                _ => Ok(()),
            }
        }

        async fn fetch_elder<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<Elder> {
            $crate::query::fetch_one::<ElderRow, _, _>(e, id).await
        }

        /// Checks that the region, care manager and home station an elder record names exist
        /// and are what they claim to be.
        async fn check_elder_refs<'a>(tx: &mut Tx, recs: impl Iterator<Item = &'a ElderRecord> + Clone) -> Result<()> {
            let mut regions: Vec<&str> = recs.clone().map(|r| r.region.as_str()).collect();
            regions.sort_unstable();
            regions.dedup();
            for code in regions {
                let found: Option<i16> = sqlx::query_scalar("SELECT level FROM regions WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&mut **tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::invalid(
                        "region_code",
                        "unknown_region",
                        format!("区划代码 {code} 不存在"),
                        format!("unknown region code {code}"),
                    ));
                }
            }
            let mut managers: Vec<i64> = recs.clone().filter_map(|r| r.care_manager_id).collect();
            managers.sort_unstable();
            managers.dedup();
            for id in managers {
                let role: Option<String> = sqlx::query_scalar("SELECT role FROM accounts WHERE id = $1 AND active")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                if role.as_deref() != Some(Role::CareManager.as_str()) {
                    return Err(StoreError::invalid(
                        "care_manager_id",
                        "not_a_care_manager",
                        format!("账号 {id} 不是在岗的养老管家"),
                        format!("account {id} is not an active care manager"),
                    ));
                }
            }
            let mut stations: Vec<i64> = recs.filter_map(|r| r.home_station_id).collect();
            stations.sort_unstable();
            stations.dedup();
            for id in stations {
                let found: Option<i64> = sqlx::query_scalar("SELECT id FROM facilities WHERE id = $1 AND active")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::invalid(
                        "home_station_id",
                        "unknown_facility",
                        format!("服务机构 {id} 不存在或已停用"),
                        format!("facility {id} does not exist or is inactive"),
                    ));
                }
            }
            Ok(())
        }

        /// Appends a boolean SQL expression over the `elders` table for a visibility scope.
        fn push_scope(qb: &mut QueryBuilder<'_, $db>, scope: &ElderScope) {
            match scope {
                ElderScope::All => {
                    qb.push("TRUE");
                }
                ElderScope::RegionPrefix(p) => {
                    qb.push("region_code LIKE ").push_bind(format!("{p}%"));
                }
                ElderScope::CareManager(id) => {
                    qb.push("care_manager_id = ").push_bind(*id);
                }
                ElderScope::Station(id) => {
                    qb.push("home_station_id = ").push_bind(*id);
                }
                ElderScope::Family(id) => {
                    qb.push("id IN (SELECT elder_id FROM family_links WHERE account_id = ").push_bind(*id).push(")");
                }
                ElderScope::Serving(id) => {
                    qb.push("id IN (SELECT elder_id FROM care_assignments WHERE ended_at IS NULL AND caregiver_id = ")
                        .push_bind(*id)
                        .push(")");
                }
            }
        }

        fn push_elder_filter(qb: &mut QueryBuilder<'_, $db>, f: &ElderFilter) {
            qb.push(" WHERE (");
            push_scope(qb, &f.scope);
            qb.push(")");
            if let Some(p) = &f.region_prefix {
                qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
            }
            if let Some(s) = f.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(d) = f.born_on_or_before {
                qb.push(" AND birth_date <= ").push_bind(d.format("%Y-%m-%d").to_string());
            }
            if let Some(d) = f.born_on_or_after {
                qb.push(" AND birth_date >= ").push_bind(d.format("%Y-%m-%d").to_string());
            }
            if let Some(v) = f.living {
                qb.push(" AND living = ").push_bind(v.as_str());
            }
            if let Some(v) = f.economic {
                qb.push(" AND economic = ").push_bind(v.as_str());
            }
            if let Some(v) = f.capability {
                qb.push(" AND capability = ").push_bind(v.as_i16());
            }
            if let Some(v) = f.hukou {
                qb.push(" AND hukou = ").push_bind(v.as_str());
            }
            match f.has_card {
                Some(true) => {
                    qb.push(" AND card_no IS NOT NULL");
                }
                Some(false) => {
                    qb.push(" AND card_no IS NULL");
                }
                None => {}
            }
            if let Some(has) = f.has_device {
                qb.push(if has { " AND " } else { " AND NOT " });
                qb.push("EXISTS (SELECT 1 FROM devices d WHERE d.elder_id = elders.id AND d.active)");
            }
            if let Some(id) = f.care_manager_id {
                qb.push(" AND care_manager_id = ").push_bind(id);
            }
            if let Some(id) = f.home_station_id {
                qb.push(" AND home_station_id = ").push_bind(id);
            }
            if let Some(q) = f.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                match zhulao_domain::elder::ElderSearch::of(q) {
                    zhulao_domain::elder::ElderSearch::IdNumber => {
                        qb.push(" AND id_number = ").push_bind(q.to_ascii_uppercase());
                    }
                    zhulao_domain::elder::ElderSearch::Phone => {
                        qb.push(" AND phone = ").push_bind(q.to_string());
                    }
                    zhulao_domain::elder::ElderSearch::Name => {
                        qb.push(" AND name LIKE ").push_bind(like_contains(q)).push(" ESCAPE '\\'");
                    }
                }
            }
        }

        fn page_bounds(offset: i64, limit: i64) -> (i64, i64) {
            (offset.max(0), limit.clamp(1, 500_000))
        }

        fn years_before(day: NaiveDate, years: u32) -> NaiveDate {
            day.checked_sub_months(Months::new(12 * years)).unwrap_or(NaiveDate::MIN)
        }

        async fn fetch_device<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<Device> {
            $crate::query::fetch_one::<DeviceRow, _, _>(e, id).await
        }

        async fn fetch_facility<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<Facility> {
            $crate::query::fetch_one::<FacilityRow, _, _>(e, id).await
        }

        async fn fetch_account<'e>(e: impl sqlx::Executor<'e, Database = $db>, id: i64) -> Result<Account> {
            $crate::query::fetch_one::<AccountRow, _, _>(e, id).await
        }

        async fn check_region(tx: &mut Tx, code: &RegionCode) -> Result<()> {
            let found: Option<i16> = sqlx::query_scalar("SELECT level FROM regions WHERE code = $1")
                .bind(code.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            found.map(|_| ()).ok_or_else(|| {
                StoreError::invalid(
                    "region_code",
                    "unknown_region",
                    format!("区划代码 {code} 不存在"),
                    format!("unknown region code {code}"),
                )
            })
        }

        async fn active_elder(tx: &mut Tx, id: i64) -> Result<Elder> {
            let elder = fetch_elder(&mut **tx, id).await?;
            if elder.status != ElderStatus::Active {
                return Err(StoreError::invalid(
                    "elder_id",
                    "elder_inactive",
                    "该老人已迁出或已故",
                    "the elder has moved away or died",
                ));
            }
            Ok(elder)
        }

        async fn count(qb: &mut QueryBuilder<'_, $db>, pool: &sqlx::Pool<$db>) -> Result<i64> {
            Ok(qb.build_query_scalar::<i64>().fetch_one(pool).await?)
        }

        /// One page of a list: `build(select)` gives the query up to its filters; this adds the
        /// count, the order, the page bounds and the row conversion.
        async fn paged<R, T>(
            pool: &sqlx::Pool<$db>,
            build: impl Fn(&str) -> QueryBuilder<'static, $db>,
            columns: &str,
            order: &str,
            (offset, limit): (i64, i64),
            convert: impl Fn(R) -> Result<T>,
        ) -> Result<Page<T>>
        where
            R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
        {
            let total = count(&mut build("SELECT COUNT(*)"), pool).await?;
            let mut qb = build(&format!("SELECT {columns}"));
            qb.push(format!(" ORDER BY {order} LIMIT ")).push_bind(limit).push(" OFFSET ").push_bind(offset);
            let items = qb.build_query_as::<R>().fetch_all(pool).await?.into_iter().map(convert).collect::<Result<_>>()?;
            Ok(Page { items, total, offset, limit })
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            fn clock(&self) -> &dyn Clock {
                &*self.clock
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn analyze(&self) -> Result<()> {
                sqlx::query("ANALYZE").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_regions(&self, regions: &[Region], actor: Actor) -> Result<usize> {
                let now = self.clock.now_ms();
                let mut sorted: Vec<&Region> = regions.iter().collect();
                sorted.sort_by_key(|r| r.level);
                let mut tx = self.begin().await?;
                for r in sorted {
                    // Counties are the platform's top level: their prefecture is not stored.
                    let parent = r.parent.as_ref().filter(|_| r.level != RegionLevel::County);
                    if let Some(p) = parent {
                        check_region(&mut tx, p).await.map_err(|_| {
                            StoreError::invalid(
                                "parent",
                                "unknown_region",
                                format!("上级区划 {p} 不存在"),
                                format!("parent region {p} does not exist"),
                            )
                        })?;
                    }
                    sqlx::query(
                        "INSERT INTO regions (code, name, level, parent_code) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
                         parent_code = excluded.parent_code",
                    )
                    .bind(r.code.as_str())
                    .bind(&r.name)
                    .bind(r.level.as_i16())
                    .bind(parent.map(|p| p.as_str()))
                    .execute(&mut *tx)
                    .await?;
                    audit(&mut tx, now, actor, "upsert", "region", r.code.as_str(), None, Some(to_json(r))).await?;
                }
                tx.commit().await?;
                Ok(regions.len())
            }

            async fn region(&self, code: &RegionCode) -> Result<Region> {
                sqlx::query_as::<_, RegionRow>("SELECT code, name, level, parent_code FROM regions WHERE code = $1")
                    .bind(code.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| not_found("region"))?
                    .into_domain()
            }

            async fn list_regions(&self, parent: Option<&RegionCode>) -> Result<Vec<Region>> {
                let rows = match parent {
                    Some(p) => {
                        sqlx::query_as::<_, RegionRow>(
                            "SELECT code, name, level, parent_code FROM regions WHERE parent_code = $1 ORDER BY code",
                        )
                        .bind(p.as_str())
                        .fetch_all(&self.pool)
                        .await?
                    }
                    None => {
                        sqlx::query_as::<_, RegionRow>(
                            "SELECT code, name, level, parent_code FROM regions WHERE parent_code IS NULL \
                             OR parent_code NOT IN (SELECT code FROM regions) ORDER BY code",
                        )
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                rows.into_iter().map(RegionRow::into_domain).collect()
            }

            async fn create_facility(&self, rec: &FacilityRecord, actor: Actor) -> Result<Facility> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                check_region(&mut tx, &rec.region).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO facilities (kind, name, region_code, address, lat, lon, opening_hours, beds, \
                     meals_per_day, operator_org, service_radius_m, phone, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, TRUE, $13, $13) RETURNING id",
                )
                .bind(rec.kind.as_str())
                .bind(&rec.name)
                .bind(rec.region.as_str())
                .bind(&rec.address)
                .bind(rec.location.lat)
                .bind(rec.location.lon)
                .bind(&rec.opening_hours)
                .bind(rec.beds)
                .bind(rec.meals_per_day)
                .bind(&rec.operator_org)
                .bind(rec.service_radius_m)
                .bind(rec.phone.as_ref().map(|p| p.as_str()))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_db)?;
                let f = fetch_facility(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "create", "facility", id, None, Some(to_json(&f))).await?;
                tx.commit().await?;
                Ok(f)
            }

            async fn update_facility(&self, id: i64, rec: &FacilityRecord, actor: Actor) -> Result<Facility> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_facility(&mut *tx, id).await?;
                check_region(&mut tx, &rec.region).await?;
                sqlx::query(
                    "UPDATE facilities SET kind = $1, name = $2, region_code = $3, address = $4, lat = $5, \
                     lon = $6, opening_hours = $7, beds = $8, meals_per_day = $9, operator_org = $10, \
                     service_radius_m = $11, phone = $12, updated_at = $13 WHERE id = $14",
                )
                .bind(rec.kind.as_str())
                .bind(&rec.name)
                .bind(rec.region.as_str())
                .bind(&rec.address)
                .bind(rec.location.lat)
                .bind(rec.location.lon)
                .bind(&rec.opening_hours)
                .bind(rec.beds)
                .bind(rec.meals_per_day)
                .bind(&rec.operator_org)
                .bind(rec.service_radius_m)
                .bind(rec.phone.as_ref().map(|p| p.as_str()))
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let after = fetch_facility(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "update", "facility", id, Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn set_facility_active(&self, id: i64, active: bool, actor: Actor) -> Result<Facility> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_facility(&mut *tx, id).await?;
                sqlx::query("UPDATE facilities SET active = $1, updated_at = $2 WHERE id = $3")
                    .bind(active)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let after = fetch_facility(&mut *tx, id).await?;
                let action = if active { "activate" } else { "deactivate" };
                audit(&mut tx, now, actor, action, "facility", id, Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn facility(&self, id: i64) -> Result<Facility> {
                fetch_facility(&self.pool, id).await
            }

            async fn list_facilities(&self, f: &FacilityFilter) -> Result<Page<Facility>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM facilities WHERE TRUE");
                    if let Some(p) = &f.region_prefix {
                        qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
                    }
                    if let Some(k) = f.kind {
                        qb.push(" AND kind = ").push_bind(k.as_str());
                    }
                    if let Some(a) = f.active {
                        qb.push(" AND active = ").push_bind(a);
                    }
                    if let Some(q) = f.query.as_deref().filter(|q| !q.trim().is_empty()) {
                        qb.push(" AND name LIKE ").push_bind(like_contains(q.trim())).push(" ESCAPE '\\'");
                    }
                    qb
                };
                paged(&self.pool, build, FACILITY_COLUMNS, "id", (offset, limit), FacilityRow::into_domain).await
            }

            async fn create_account(&self, a: &NewAccount, password_hash: &str, actor: Actor) -> Result<Account> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                if let Some(r) = &a.region {
                    check_region(&mut tx, r).await?;
                }
                if let Some(fid) = a.facility_id {
                    fetch_facility(&mut *tx, fid).await.map_err(|_| {
                        StoreError::invalid(
                            "facility_id",
                            "unknown_facility",
                            format!("服务机构 {fid} 不存在"),
                            format!("facility {fid} does not exist"),
                        )
                    })?;
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO accounts (username, display_name, role, password_hash, phone, region_code, \
                     facility_id, skills, certificates, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10, $10) RETURNING id",
                )
                .bind(&a.username)
                .bind(&a.display_name)
                .bind(a.role.as_str())
                .bind(password_hash)
                .bind(a.phone.as_ref().map(|p| p.as_str()))
                .bind(a.region.as_ref().map(|r| r.as_str()))
                .bind(a.facility_id)
                .bind(to_json(&a.skills))
                .bind(to_json(&a.certificates))
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_db)?;
                let acc = fetch_account(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "create", "account", id, None, Some(to_json(&acc))).await?;
                tx.commit().await?;
                Ok(acc)
            }

            async fn account(&self, id: i64) -> Result<Account> {
                fetch_account(&self.pool, id).await
            }

            async fn credentials(&self, username: &str) -> Result<Option<(Account, String)>> {
                let row = sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE username = $1"
                ))
                .bind(username.trim().to_ascii_lowercase())
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let hash: String = row.try_get("password_hash")?;
                let acc = <AccountRow as sqlx::FromRow<_>>::from_row(&row)?.into_domain()?;
                Ok(Some((acc, hash)))
            }

            async fn list_accounts(&self, f: &AccountFilter) -> Result<Page<Account>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM accounts WHERE TRUE");
                    if let Some(r) = f.role {
                        qb.push(" AND role = ").push_bind(r.as_str());
                    }
                    if let Some(p) = &f.region_prefix {
                        qb.push(" AND region_code LIKE ").push_bind(format!("{p}%"));
                    }
                    if let Some(id) = f.facility_id {
                        qb.push(" AND facility_id = ").push_bind(id);
                    }
                    if let Some(a) = f.active {
                        qb.push(" AND active = ").push_bind(a);
                    }
                    qb
                };
                paged(&self.pool, build, ACCOUNT_COLUMNS, "id", (offset, limit), AccountRow::into_domain).await
            }

            async fn set_account_active(&self, id: i64, active: bool, actor: Actor) -> Result<Account> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_account(&mut *tx, id).await?;
                sqlx::query("UPDATE accounts SET active = $1, updated_at = $2 WHERE id = $3")
                    .bind(active)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if !active {
                    sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(id).execute(&mut *tx).await?;
                }
                let after = fetch_account(&mut *tx, id).await?;
                let action = if active { "activate" } else { "deactivate" };
                audit(&mut tx, now, actor, action, "account", id, Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn set_password(&self, id: i64, password_hash: &str, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let done = sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(password_hash)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(not_found("account"));
                }
                // Every session ends when the password changes; the caller signs in again.
                sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(id).execute(&mut *tx).await?;
                audit(&mut tx, now, actor, "set_password", "account", id, None, None).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_session(&self, token_hash: &str, account_id: i64, expires_at: i64) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(account_id)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                audit(&mut tx, now, Actor::account(account_id), "login", "account", account_id, None, None).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_account(&self, token_hash: &str) -> Result<Option<Account>> {
                let cols = ACCOUNT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
                let row = sqlx::query_as::<_, AccountRow>(&format!(
                    "SELECT {cols} FROM sessions s JOIN accounts a ON a.id = s.account_id \
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.active"
                ))
                .bind(token_hash)
                .bind(self.clock.now_ms())
                .fetch_optional(&self.pool)
                .await?;
                row.map(AccountRow::into_domain).transpose()
            }

            async fn delete_session(&self, token_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn create_elder(&self, rec: &ElderRecord, actor: Actor) -> Result<Elder> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                check_elder_refs(&mut tx, std::iter::once(rec)).await?;
                let v = ElderValues::of(rec);
                let sql = format!(
                    "INSERT INTO elders ({ELDER_WRITE_COLUMNS}, status, created_at, updated_at, version) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
                     'active', $20, $20, 1) RETURNING id"
                );
                let row = bind_elder(sqlx::query(&sql), &v)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from_db)?;
                let id: i64 = row.try_get("id")?;
                sqlx::query(
                    "INSERT INTO elder_status_history (elder_id, status, reason, at, actor_id) \
                     VALUES ($1, 'active', '登记', $2, $3)",
                )
                .bind(id)
                .bind(now)
                .bind(actor.account_id)
                .execute(&mut *tx)
                .await?;
                let elder = fetch_elder(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "create", "elder", id, None, Some(to_json(&elder))).await?;
                tx.commit().await?;
                Ok(elder)
            }

            async fn update_elder(
                &self,
                id: i64,
                rec: &ElderRecord,
                expected_version: Option<i64>,
                actor: Actor,
            ) -> Result<Elder> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_elder(&mut *tx, id).await?;
                check_version(before.version, expected_version)?;
                check_elder_refs(&mut tx, std::iter::once(rec)).await?;
                let v = ElderValues::of(rec);
                let sql = elder_update_sql();
                bind_elder(sqlx::query(&sql), &v)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_db)?;
                let after = fetch_elder(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "update", "elder", id, Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn set_elder_status(
                &self,
                id: i64,
                status: ElderStatus,
                reason: &str,
                actor: Actor,
            ) -> Result<Elder> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_elder(&mut *tx, id).await?;
                if before.status == status {
                    return Ok(before);
                }
                sqlx::query(
                    "UPDATE elders SET status = $1, updated_at = $2, version = version + 1 WHERE id = $3",
                )
                .bind(status.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO elder_status_history (elder_id, status, reason, at, actor_id) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(reason)
                .bind(now)
                .bind(actor.account_id)
                .execute(&mut *tx)
                .await?;
                if status != ElderStatus::Active {
                    // Devices of someone who has left or died go back to the station's spares;
                    // the binding history keeps who wore them.
                    let bound: Vec<i64> =
                        sqlx::query_scalar("SELECT id FROM devices WHERE elder_id = $1").bind(id).fetch_all(&mut *tx).await?;
                    for device_id in bound {
                        unbind_in(&mut tx, device_id, now, actor).await?;
                    }
                    sqlx::query("UPDATE care_assignments SET ended_at = $1 WHERE elder_id = $2 AND ended_at IS NULL")
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                let after = fetch_elder(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "status", "elder", id, Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn set_monitoring(
                &self,
                id: i64,
                settings: &MonitoringSettings,
                expected_version: Option<i64>,
                actor: Actor,
            ) -> Result<Elder> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_elder(&mut *tx, id).await?;
                check_version(before.version, expected_version)?;
                sqlx::query("UPDATE elders SET monitoring = $1, updated_at = $2, version = version + 1 WHERE id = $3")
                    .bind(to_json(settings))
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let after = fetch_elder(&mut *tx, id).await?;
                audit(
                    &mut tx,
                    now,
                    actor,
                    "monitoring",
                    "elder",
                    id,
                    Some(to_json(&before.monitoring)),
                    Some(to_json(&after.monitoring)),
                )
                .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn elder(&self, id: i64) -> Result<Elder> {
                fetch_elder(&self.pool, id).await
            }

            async fn elder_by_id_number(&self, id_number: &str) -> Result<Option<Elder>> {
                sqlx::query_as::<_, ElderRow>(&format!("SELECT {ELDER_COLUMNS} FROM elders WHERE id_number = $1"))
                    .bind(id_number.trim().to_ascii_uppercase())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(ElderRow::into_domain)
                    .transpose()
            }

            async fn elder_status_history(&self, id: i64) -> Result<Vec<StatusChange>> {
                sqlx::query_as::<_, StatusRow>(
                    "SELECT status, reason, at, actor_id FROM elder_status_history WHERE elder_id = $1 ORDER BY id",
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(StatusRow::into_domain)
                .collect()
            }

            async fn list_elders(&self, f: &ElderFilter) -> Result<Page<Elder>> {
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(format!("{select} FROM elders"));
                    push_elder_filter(&mut qb, f);
                    qb
                };
                paged(&self.pool, build, ELDER_COLUMNS, "id", page_bounds(f.offset, f.limit), ElderRow::into_domain).await
            }

            async fn import_elders(&self, recs: &[ElderRecord], actor: Actor) -> Result<ImportSummary> {
                let now = self.clock.now_ms();
                let mut summary = ImportSummary::default();
                let mut tx = self.begin().await?;
                check_elder_refs(&mut tx, recs.iter()).await?;
                for chunk in recs.chunks(CHUNK) {
                    // Which of these exist already?
                    let mut qb = QueryBuilder::<$db>::new(format!("SELECT {ELDER_COLUMNS} FROM elders WHERE id_number IN ("));
                    let mut sep = qb.separated(", ");
                    for r in chunk {
                        sep.push_bind(r.id_number.as_str());
                    }
                    qb.push(")");
                    let existing: std::collections::HashMap<String, Elder> = qb
                        .build_query_as::<ElderRow>()
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .map(|r| r.into_domain().map(|e| (e.record.id_number.as_str().to_string(), e)))
                        .collect::<Result<_>>()?;
                    let mut fresh = Vec::new();
                    for rec in chunk {
                        match existing.get(rec.id_number.as_str()) {
                            Some(old) => {
                                // A ledger has no columns for the care manager and the home
                                // station: a row that leaves them empty keeps the links.
                                let mut rec = rec.clone();
                                rec.care_manager_id = rec.care_manager_id.or(old.record.care_manager_id);
                                rec.home_station_id = rec.home_station_id.or(old.record.home_station_id);
                                if old.record == rec {
                                    summary.unchanged += 1;
                                    continue;
                                }
                                let v = ElderValues::of(&rec);
                                let sql = elder_update_sql();
                                bind_elder(sqlx::query(&sql), &v)
                                    .bind(now)
                                    .bind(old.id)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(StoreError::from_db)?;
                                let after = fetch_elder(&mut *tx, old.id).await?;
                                audit(&mut tx, now, actor, "import_update", "elder", old.id, Some(to_json(old)), Some(to_json(&after)))
                                    .await?;
                                summary.updated += 1;
                            }
                            None => fresh.push(rec),
                        }
                    }
                    if fresh.is_empty() {
                        continue;
                    }
                    let values: Vec<ElderValues> = fresh.iter().map(|r| ElderValues::of(r)).collect();
                    let mut qb = QueryBuilder::<$db>::new(format!(
                        "INSERT INTO elders ({ELDER_WRITE_COLUMNS}, status, created_at, updated_at, version) "
                    ));
                    qb.push_values(&values, |mut b, v| {
                        $crate::sql::elder_binds!(b, push_bind, v)
                            .push_bind("active")
                            .push_bind(now)
                            .push_bind(now)
                            .push_bind(1_i64);
                    });
                    qb.build().execute(&mut *tx).await.map_err(StoreError::from_db)?;
                    // The new ids, to write the status history and the audit log.
                    let mut qb = QueryBuilder::<$db>::new("SELECT id, id_number FROM elders WHERE id_number IN (");
                    let mut sep = qb.separated(", ");
                    for v in &values {
                        sep.push_bind(&v.id_number);
                    }
                    qb.push(")");
                    let ids: std::collections::HashMap<String, i64> = qb
                        .build()
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get::<String, _>("id_number")?, r.try_get::<i64, _>("id")?)))
                        .collect::<std::result::Result<_, sqlx::Error>>()?;
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO elder_status_history (elder_id, status, reason, at, actor_id) ",
                    );
                    qb.push_values(&fresh, |mut b, r| {
                        b.push_bind(ids.get(r.id_number.as_str()).copied())
                            .push_bind("active")
                            .push_bind("台账导入")
                            .push_bind(now)
                            .push_bind(actor.account_id);
                    });
                    qb.build().execute(&mut *tx).await?;
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, before, after) ",
                    );
                    qb.push_values(&fresh, |mut b, r| {
                        let id = ids.get(r.id_number.as_str()).copied().unwrap_or_default();
                        b.push_bind(now)
                            .push_bind(actor.account_id)
                            .push_bind("import_create")
                            .push_bind("elder")
                            .push_bind(id.to_string())
                            .push_bind(None::<String>)
                            .push_bind(to_json(r));
                    });
                    qb.build().execute(&mut *tx).await?;
                    summary.inserted += fresh.len();
                }
                tx.commit().await?;
                if summary.inserted + summary.updated >= 1000 {
                    // Fresh statistics, so the planner picks the indexes after a bulk load.
                    sqlx::query("ANALYZE elders").execute(&self.pool).await?;
                }
                Ok(summary)
            }

            async fn link_family(&self, account_id: i64, elder_id: i64, actor: Actor) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let acc = fetch_account(&mut *tx, account_id).await?;
                if acc.role != Role::Family {
                    return Err(StoreError::invalid(
                        "account_id",
                        "not_family",
                        "只能关联家属账号",
                        "only family accounts can be linked to an elder",
                    ));
                }
                fetch_elder(&mut *tx, elder_id).await?;
                let done = sqlx::query(
                    "INSERT INTO family_links (account_id, elder_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (account_id, elder_id) DO NOTHING",
                )
                .bind(account_id)
                .bind(elder_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() > 0 {
                    let after = serde_json::json!({ "account_id": account_id, "elder_id": elder_id }).to_string();
                    audit(&mut tx, now, actor, "link", "family_link", format!("{account_id}:{elder_id}"), None, Some(after))
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn is_family_of(&self, account_id: i64, elder_id: i64) -> Result<bool> {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT elder_id FROM family_links WHERE account_id = $1 AND elder_id = $2")
                        .bind(account_id)
                        .bind(elder_id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(found.is_some())
            }

            async fn start_assignment(&self, caregiver_id: i64, elder_id: i64, actor: Actor) -> Result<Assignment> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let acc = fetch_account(&mut *tx, caregiver_id).await?;
                if acc.role != Role::Caregiver || !acc.active {
                    return Err(StoreError::invalid(
                        "caregiver_id",
                        "not_caregiver",
                        "只能指派在岗的助老员",
                        "only an active caregiver can be assigned",
                    ));
                }
                active_elder(&mut tx, elder_id).await?;
                let row = sqlx::query_as::<_, AssignmentRow>(
                    "INSERT INTO care_assignments (caregiver_id, elder_id, started_at, created_by) \
                     VALUES ($1, $2, $3, $4) RETURNING id, caregiver_id, elder_id, started_at, ended_at",
                )
                .bind(caregiver_id)
                .bind(elder_id)
                .bind(now)
                .bind(actor.account_id)
                .fetch_one(&mut *tx)
                .await?;
                let a = Assignment::from(row);
                audit(&mut tx, now, actor, "create", "assignment", a.id, None, Some(to_json(&a))).await?;
                tx.commit().await?;
                Ok(a)
            }

            async fn end_assignment(&self, id: i64, actor: Actor) -> Result<Assignment> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let row = sqlx::query_as::<_, AssignmentRow>(
                    "UPDATE care_assignments SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL \
                     RETURNING id, caregiver_id, elder_id, started_at, ended_at",
                )
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| not_found("assignment"))?;
                let a = Assignment::from(row);
                audit(&mut tx, now, actor, "end", "assignment", a.id, None, Some(to_json(&a))).await?;
                tx.commit().await?;
                Ok(a)
            }

            async fn assignment(&self, id: i64) -> Result<Assignment> {
                Ok(sqlx::query_as::<_, AssignmentRow>(
                    "SELECT id, caregiver_id, elder_id, started_at, ended_at FROM care_assignments WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| not_found("assignment"))?
                .into())
            }

            async fn is_serving(&self, caregiver_id: i64, elder_id: i64) -> Result<bool> {
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM care_assignments WHERE caregiver_id = $1 AND elder_id = $2 AND ended_at IS NULL",
                )
                .bind(caregiver_id)
                .bind(elder_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.is_some())
            }

            async fn active_assignments(&self, caregiver_id: i64) -> Result<Vec<Assignment>> {
                Ok(sqlx::query_as::<_, AssignmentRow>(
                    "SELECT id, caregiver_id, elder_id, started_at, ended_at FROM care_assignments \
                     WHERE caregiver_id = $1 AND ended_at IS NULL ORDER BY id",
                )
                .bind(caregiver_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Assignment::from)
                .collect())
            }

            async fn register_device(&self, d: &NewDevice, secret_hash: &str, actor: Actor) -> Result<Device> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO devices (serial, kind, model, secret_hash, elder_id, active, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, NULL, TRUE, $5, $5) RETURNING id",
                )
                .bind(&d.serial)
                .bind(d.kind.as_str())
                .bind(&d.model)
                .bind(secret_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_db)?;
                let dev = fetch_device(&mut *tx, id).await?;
                audit(&mut tx, now, actor, "create", "device", id, None, Some(to_json(&dev))).await?;
                tx.commit().await?;
                Ok(dev)
            }

            async fn device(&self, id: i64) -> Result<Device> {
                fetch_device(&self.pool, id).await
            }

            async fn device_by_serial(&self, serial: &str) -> Result<Option<(Device, String)>> {
                sqlx::query_as::<_, DeviceRow>(&format!(
                    "SELECT {DEVICE_COLUMNS}, secret_hash FROM devices WHERE serial = $1"
                ))
                .bind(serial)
                .fetch_optional(&self.pool)
                .await?
                .map(DeviceRow::into_with_secret)
                .transpose()
            }

            async fn list_devices(&self, f: &DeviceFilter) -> Result<Page<Device>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM devices WHERE (elder_id IN (SELECT id FROM elders WHERE ");
                    push_scope(&mut qb, &f.scope);
                    qb.push(")");
                    if f.include_unbound {
                        qb.push(" OR elder_id IS NULL");
                    }
                    qb.push(")");
                    if let Some(id) = f.elder_id {
                        qb.push(" AND elder_id = ").push_bind(id);
                    }
                    qb
                };
                paged(&self.pool, build, DEVICE_COLUMNS, "id", (offset, limit), DeviceRow::into_domain).await
            }

            async fn bind_device(&self, device_id: i64, elder_id: i64, actor: Actor) -> Result<Device> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                let before = fetch_device(&mut *tx, device_id).await?;
                if !before.active {
                    return Err(StoreError::invalid("device_id", "device_inactive", "设备已停用", "the device is retired"));
                }
                active_elder(&mut tx, elder_id).await?;
                if before.elder_id == Some(elder_id) {
                    return Ok(before);
                }
                if before.elder_id.is_some() {
                    unbind_in(&mut tx, device_id, now, actor).await?;
                }
                sqlx::query("UPDATE devices SET elder_id = $1, updated_at = $2 WHERE id = $3")
                    .bind(elder_id)
                    .bind(now)
                    .bind(device_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO device_bindings (device_id, elder_id, bound_at, bound_by) VALUES ($1, $2, $3, $4)",
                )
                .bind(device_id)
                .bind(elder_id)
                .bind(now)
                .bind(actor.account_id.unwrap_or(0))
                .execute(&mut *tx)
                .await?;
                let after = fetch_device(&mut *tx, device_id).await?;
                audit(&mut tx, now, actor, "bind", "device", device_id, Some(to_json(&before)), Some(to_json(&after)))
                    .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn unbind_device(&self, device_id: i64, actor: Actor) -> Result<Device> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                fetch_device(&mut *tx, device_id).await?;
                let after = unbind_in(&mut tx, device_id, now, actor).await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn device_bindings(&self, device_id: i64) -> Result<Vec<DeviceBinding>> {
                Ok(sqlx::query_as::<_, BindingRow>(
                    "SELECT device_id, elder_id, bound_at, unbound_at, bound_by FROM device_bindings \
                     WHERE device_id = $1 ORDER BY id",
                )
                .bind(device_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(DeviceBinding::from)
                .collect())
            }

            async fn region_stats(
                &self,
                scope: &ElderScope,
                region_prefix: &str,
                today: NaiveDate,
            ) -> Result<RegionStats> {
                use std::collections::BTreeMap;
                use zhulao_domain::{CapabilityLevel, Count, EconomicStatus, LivingArrangement};

                let d70 = years_before(today, 70).format("%Y-%m-%d").to_string();
                let d80 = years_before(today, 80).format("%Y-%m-%d").to_string();
                let mut f = ElderFilter::scoped(scope.clone());
                f.region_prefix = Some(region_prefix.to_string()).filter(|p| !p.is_empty());

                // One scan: counts per (status, living, economic, capability), with the age,
                // card and device figures summed inside each group.
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT status, living, economic, capability, COUNT(*) AS n, \
                     COALESCE(SUM(CASE WHEN birth_date <= ",
                );
                qb.push_bind(d70.clone());
                qb.push(" THEN 1 ELSE 0 END), 0) AS aged70, COALESCE(SUM(CASE WHEN birth_date <= ");
                qb.push_bind(d80);
                qb.push(" THEN 1 ELSE 0 END), 0) AS aged80, COALESCE(SUM(CASE WHEN card_no IS NOT NULL AND birth_date <= ");
                qb.push_bind(d70.clone());
                qb.push(" THEN 1 ELSE 0 END), 0) AS cards70, COALESCE(SUM(CASE WHEN card_no IS NOT NULL AND birth_date <= ");
                qb.push_bind(d70);
                qb.push(
                    " AND id IN (SELECT elder_id FROM devices WHERE active AND elder_id IS NOT NULL) \
                     THEN 1 ELSE 0 END), 0) AS cards_devices FROM elders",
                );
                push_elder_filter(&mut qb, &f);
                qb.push(" GROUP BY status, living, economic, capability");
                let rows = qb.build().fetch_all(&self.pool).await?;

                let mut stats = RegionStats { region_code: region_prefix.to_string(), ..Default::default() };
                let (mut living, mut economic, mut capability, mut status) =
                    (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
                for r in &rows {
                    let st: String = r.try_get("status")?;
                    let n: i64 = r.try_get("n")?;
                    *status.entry(st.clone()).or_insert(0) += n;
                    if st != ElderStatus::Active.as_str() {
                        continue;
                    }
                    stats.elders += n;
                    stats.aged_70_plus += r.try_get::<i64, _>("aged70")?;
                    stats.aged_80_plus += r.try_get::<i64, _>("aged80")?;
                    stats.card_holders_70_plus += r.try_get::<i64, _>("cards70")?;
                    stats.card_holders_with_device += r.try_get::<i64, _>("cards_devices")?;
                    *living.entry(r.try_get::<String, _>("living")?).or_insert(0) += n;
                    *economic.entry(r.try_get::<String, _>("economic")?).or_insert(0) += n;
                    *capability.entry(r.try_get::<i16, _>("capability")?.to_string()).or_insert(0) += n;
                }
                fn counts(map: BTreeMap<String, i64>, label: impl Fn(&str) -> Option<&'static str>) -> Vec<Count> {
                    map.into_iter()
                        .map(|(key, count)| Count { label_zh: label(&key).unwrap_or("未知").to_string(), key, count })
                        .collect()
                }
                stats.by_living = counts(living, |k| LivingArrangement::parse_label(k).map(|v| v.label_zh()));
                stats.by_economic = counts(economic, |k| EconomicStatus::parse_label(k).map(|v| v.label_zh()));
                stats.by_capability = counts(capability, |k| CapabilityLevel::parse_label(k).map(|v| v.label_zh()));
                stats.by_status = counts(status, |k| ElderStatus::parse_label(k).map(|v| v.label_zh()));

                let mut active = f;
                active.status = Some(ElderStatus::Active);
                let mut qb = QueryBuilder::<$db>::new("SELECT COUNT(DISTINCT care_manager_id) FROM elders");
                push_elder_filter(&mut qb, &active);
                stats.care_managers = count(&mut qb, &self.pool).await?;
                Ok(stats)
            }

            async fn record_action(
                &self,
                actor: Actor,
                action: &str,
                entity: &str,
                entity_id: i64,
                detail: &serde_json::Value,
            ) -> Result<()> {
                let now = self.clock.now_ms();
                let mut tx = self.begin().await?;
                audit(&mut tx, now, actor, action, entity, entity_id, None, Some(detail.to_string())).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditEntry>> {
                let (offset, limit) = page_bounds(f.offset, f.limit);
                let build = |select: &str| {
                    let mut qb = QueryBuilder::<$db>::new(select);
                    qb.push(" FROM audit_log WHERE TRUE");
                    if let Some(e) = &f.entity {
                        qb.push(" AND entity = ").push_bind(e.clone());
                    }
                    if let Some(e) = &f.entity_id {
                        qb.push(" AND entity_id = ").push_bind(e.clone());
                    }
                    if let Some(a) = f.actor_id {
                        qb.push(" AND actor_id = ").push_bind(a);
                    }
                    qb
                };
                paged(&self.pool, build, "id, at, actor_id, action, entity, entity_id, before, after", "id DESC", (offset, limit), AuditRow::into_domain).await
            }
        }

        /// Ends a device's current binding inside a transaction (no-op if unbound).
        async fn unbind_in(tx: &mut Tx, device_id: i64, now: i64, actor: Actor) -> Result<Device> {
            let before = fetch_device(&mut **tx, device_id).await?;
            if before.elder_id.is_none() {
                return Ok(before);
            }
            sqlx::query("UPDATE devices SET elder_id = NULL, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(device_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE device_bindings SET unbound_at = $1 WHERE device_id = $2 AND unbound_at IS NULL")
                .bind(now)
                .bind(device_id)
                .execute(&mut **tx)
                .await?;
            let after = fetch_device(&mut **tx, device_id).await?;
            audit(tx, now, actor, "unbind", "device", device_id, Some(to_json(&before)), Some(to_json(&after))).await?;
            Ok(after)
        }
    };
}

pub(crate) use sql_store;
