-- Per-elder monitoring settings (监护设置): vital-sign limits, safe zones, inactivity period, as JSON;
-- and each device's upright direction learnt by the fall detector (JSON [x, y, z]).
ALTER TABLE elders ADD COLUMN monitoring TEXT NOT NULL DEFAULT '{}';
ALTER TABLE device_state ADD COLUMN upright TEXT;
