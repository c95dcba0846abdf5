-- The alarm's serial and fall impact time as columns (they were read back out of `detail`).
ALTER TABLE alarms ADD COLUMN serial TEXT, ADD COLUMN impact_ms BIGINT;
UPDATE alarms SET serial = detail::jsonb ->> 'serial', impact_ms = (detail::jsonb ->> 'impact_ms')::BIGINT;
