-- Alarms and the device state behind them (issue 4).

CREATE TABLE alarms (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    priority        SMALLINT NOT NULL,
    stage           TEXT NOT NULL,
    elder_id        BIGINT REFERENCES elders(id),
    device_id       BIGINT REFERENCES devices(id),
    region_code     TEXT NOT NULL,
    raised_at       BIGINT NOT NULL,
    answered_at     BIGINT,
    on_site_at      BIGINT,
    closed_at       BIGINT,
    responder_id    BIGINT REFERENCES accounts(id),
    next_due_at     BIGINT,
    -- "<subject>:<kind>" while open, NULL once closed: one open alarm per subject and kind.
    open_key        TEXT UNIQUE,
    lat             DOUBLE PRECISION,
    lon             DOUBLE PRECISION,
    location_source TEXT NOT NULL,
    location_at     BIGINT,
    source          TEXT NOT NULL,
    detail          TEXT NOT NULL,
    case_json       TEXT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX alarms_open ON alarms(closed_at, priority, raised_at);
CREATE INDEX alarms_due ON alarms(next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX alarms_region ON alarms(region_code, raised_at);
CREATE INDEX alarms_elder ON alarms(elder_id, raised_at);
CREATE INDEX alarms_responder ON alarms(responder_id) WHERE responder_id IS NOT NULL;

-- The alarm's timeline: every step, who took it, when.
CREATE TABLE alarm_events (
    id        INTEGER PRIMARY KEY,
    alarm_id  BIGINT NOT NULL REFERENCES alarms(id),
    at        BIGINT NOT NULL,
    actor_id  BIGINT REFERENCES accounts(id),
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX alarm_events_alarm ON alarm_events(alarm_id, id);

-- Every notification attempt and its outcome.
CREATE TABLE alarm_notifications (
    id          INTEGER PRIMARY KEY,
    alarm_id    BIGINT NOT NULL REFERENCES alarms(id),
    at          BIGINT NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    duration_ms BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    detail      TEXT NOT NULL
);
CREATE INDEX alarm_notifications_alarm ON alarm_notifications(alarm_id, id);

-- Device messages already acted on: a retransmission with the same id is a duplicate.
CREATE TABLE device_messages (
    device_id   BIGINT NOT NULL REFERENCES devices(id),
    msg_id      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    alarm_id    BIGINT REFERENCES alarms(id),
    PRIMARY KEY (device_id, msg_id)
);

-- The latest known state of each device (telemetry, written in batches; not audited).
CREATE TABLE device_state (
    device_id    BIGINT PRIMARY KEY REFERENCES devices(id),
    last_seen_at BIGINT NOT NULL,
    online       BOOLEAN NOT NULL,
    battery_pct  SMALLINT,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    location_at  BIGINT,
    vitals       TEXT,
    vitals_at    BIGINT,
    updated_at   BIGINT NOT NULL
);

CREATE TRIGGER alarms_no_delete BEFORE DELETE ON alarms
BEGIN SELECT RAISE(ABORT, 'alarms rows are never deleted'); END;
CREATE TRIGGER alarm_events_no_update BEFORE UPDATE ON alarm_events
BEGIN SELECT RAISE(ABORT, 'alarm_events is append-only'); END;
CREATE TRIGGER alarm_events_no_delete BEFORE DELETE ON alarm_events
BEGIN SELECT RAISE(ABORT, 'alarm_events is append-only'); END;
CREATE TRIGGER alarm_notifications_no_update BEFORE UPDATE ON alarm_notifications
BEGIN SELECT RAISE(ABORT, 'alarm_notifications is append-only'); END;
CREATE TRIGGER alarm_notifications_no_delete BEFORE DELETE ON alarm_notifications
BEGIN SELECT RAISE(ABORT, 'alarm_notifications is append-only'); END;
