-- Per-elder monitoring settings (监护设置): vital-sign limits, safe zones, inactivity period, as JSON;
-- each device's upright direction learnt by the fall detector (JSON [x, y, z]); and the settings
-- pushed to a device that its transport does not keep (a TCP watch away), until it logs in.
ALTER TABLE elders ADD COLUMN monitoring TEXT NOT NULL DEFAULT '{}';
ALTER TABLE device_state ADD COLUMN upright TEXT;
CREATE TABLE device_pending_config (
    device_id BIGINT PRIMARY KEY REFERENCES devices(id),
    payload   TEXT NOT NULL,
    queued_at BIGINT NOT NULL
);
