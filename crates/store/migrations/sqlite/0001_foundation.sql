-- zhulao foundation schema (SQLite). Timestamps are Unix milliseconds (BIGINT), dates
-- ISO-8601 text, money integer fen, lists and nested records JSON text. Records that others
-- reference are never deleted: they carry a status or an `active` flag instead.

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 3),
    parent_code TEXT REFERENCES regions(code)
);
CREATE INDEX regions_parent ON regions(parent_code);

CREATE TABLE facilities (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    name             TEXT NOT NULL,
    region_code      TEXT NOT NULL REFERENCES regions(code),
    address          TEXT NOT NULL,
    lat              DOUBLE PRECISION NOT NULL,
    lon              DOUBLE PRECISION NOT NULL,
    opening_hours    TEXT NOT NULL,
    beds             INTEGER,
    meals_per_day    INTEGER,
    operator_org     TEXT NOT NULL,
    service_radius_m INTEGER NOT NULL,
    phone            TEXT,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX facilities_region ON facilities(region_code);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    phone         TEXT,
    region_code   TEXT REFERENCES regions(code),
    facility_id   BIGINT REFERENCES facilities(id),
    skills        TEXT NOT NULL DEFAULT '[]',
    certificates  TEXT NOT NULL DEFAULT '[]',
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX accounts_role ON accounts(role);

CREATE TABLE elders (
    id               INTEGER PRIMARY KEY,
    id_number        TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    sex              TEXT NOT NULL,
    birth_date       TEXT NOT NULL,
    phone            TEXT,
    address          TEXT NOT NULL,
    lat              DOUBLE PRECISION,
    lon              DOUBLE PRECISION,
    region_code      TEXT NOT NULL REFERENCES regions(code),
    hukou            TEXT NOT NULL,
    living           TEXT NOT NULL,
    economic         TEXT NOT NULL,
    capability       SMALLINT NOT NULL CHECK (capability BETWEEN 0 AND 4),
    health           TEXT NOT NULL,
    contacts         TEXT NOT NULL,
    care_manager_id  BIGINT REFERENCES accounts(id),
    home_station_id  BIGINT REFERENCES facilities(id),
    card_no          TEXT UNIQUE,
    card_balance_fen BIGINT NOT NULL CHECK (card_balance_fen >= 0),
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL
);
CREATE INDEX elders_region ON elders(region_code);
CREATE INDEX elders_status_birth ON elders(status, birth_date);
CREATE INDEX elders_living ON elders(living);
CREATE INDEX elders_economic ON elders(economic);
CREATE INDEX elders_capability ON elders(capability);
CREATE INDEX elders_manager ON elders(care_manager_id);
CREATE INDEX elders_station ON elders(home_station_id);
CREATE INDEX elders_name ON elders(name);

CREATE TABLE elder_status_history (
    id       INTEGER PRIMARY KEY,
    elder_id BIGINT NOT NULL REFERENCES elders(id),
    status   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at       BIGINT NOT NULL,
    actor_id BIGINT
);
CREATE INDEX elder_status_history_elder ON elder_status_history(elder_id);

CREATE TABLE family_links (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    elder_id   BIGINT NOT NULL REFERENCES elders(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, elder_id)
);
CREATE INDEX family_links_elder ON family_links(elder_id);

CREATE TABLE care_assignments (
    id           INTEGER PRIMARY KEY,
    caregiver_id BIGINT NOT NULL REFERENCES accounts(id),
    elder_id     BIGINT NOT NULL REFERENCES elders(id),
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    created_by   BIGINT
);
CREATE INDEX care_assignments_caregiver ON care_assignments(caregiver_id, ended_at);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    serial      TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    model       TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    elder_id    BIGINT REFERENCES elders(id),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX devices_elder ON devices(elder_id);

CREATE TABLE device_bindings (
    id         INTEGER PRIMARY KEY,
    device_id  BIGINT NOT NULL REFERENCES devices(id),
    elder_id   BIGINT NOT NULL REFERENCES elders(id),
    bound_at   BIGINT NOT NULL,
    unbound_at BIGINT,
    bound_by   BIGINT NOT NULL
);
CREATE INDEX device_bindings_device ON device_bindings(device_id);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor_id  BIGINT,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before    TEXT,
    after     TEXT
);
CREATE INDEX audit_entity ON audit_log(entity, entity_id);
CREATE INDEX audit_at ON audit_log(at);

-- The audit log is append-only: updates and deletes are refused by the database itself.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Referenced records are never hard-deleted.
CREATE TRIGGER elders_no_delete BEFORE DELETE ON elders
BEGIN SELECT RAISE(ABORT, 'elders rows are never deleted'); END;
CREATE TRIGGER facilities_no_delete BEFORE DELETE ON facilities
BEGIN SELECT RAISE(ABORT, 'facilities rows are never deleted'); END;
CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
BEGIN SELECT RAISE(ABORT, 'accounts rows are never deleted'); END;
CREATE TRIGGER devices_no_delete BEFORE DELETE ON devices
BEGIN SELECT RAISE(ABORT, 'devices rows are never deleted'); END;
