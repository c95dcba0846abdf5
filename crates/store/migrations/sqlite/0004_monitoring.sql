-- Per-elder monitoring settings (监护设置): vital-sign limits, safe zones, inactivity period, as JSON.
ALTER TABLE elders ADD COLUMN monitoring TEXT NOT NULL DEFAULT '{}';
