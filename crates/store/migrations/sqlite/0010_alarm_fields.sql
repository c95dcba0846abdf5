-- The alarm's serial and fall impact time as columns (they were read back out of `detail`).
ALTER TABLE alarms ADD COLUMN serial TEXT;
ALTER TABLE alarms ADD COLUMN impact_ms BIGINT;
UPDATE alarms SET serial = json_extract(detail, '$.serial'), impact_ms = json_extract(detail, '$.impact_ms');
