-- Home-care services (issue 5): the catalogue and its regional prices, caregivers' duty and
-- positions, service orders with their events and photos, complaints, settlement (rule books,
-- funding pools, per-elder rule usage, settlements), meals (menus and meal orders), the time
-- bank (volunteers, hour records, double-entry postings and balances, pairs) and the lists
-- civil affairs keeps (government-purchased services, charity meals …).
-- Money is integer fen; timestamps Unix milliseconds; dates ISO-8601 text.

CREATE TABLE service_items (
    code           TEXT PRIMARY KEY,
    category       TEXT NOT NULL,
    name_zh        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    duration_min   INTEGER NOT NULL CHECK (duration_min > 0),
    skills         TEXT NOT NULL,
    base_price_fen BIGINT NOT NULL CHECK (base_price_fen >= 0),
    builtin        BOOLEAN NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE service_prices (
    region_prefix TEXT NOT NULL,
    item_code     TEXT NOT NULL REFERENCES service_items(code),
    price_fen     BIGINT NOT NULL CHECK (price_fen >= 0),
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (region_prefix, item_code)
);

-- A caregiver's duty and last position (their phone). Positions are telemetry; duty changes
-- are audited.
CREATE TABLE caregiver_status (
    account_id    BIGINT PRIMARY KEY REFERENCES accounts(id),
    on_duty       BOOLEAN NOT NULL DEFAULT FALSE,
    lat           DOUBLE PRECISION,
    lon           DOUBLE PRECISION,
    position_at   BIGINT,
    quality_milli INTEGER NOT NULL DEFAULT 4000,
    ratings       INTEGER NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX caregiver_status_position ON caregiver_status(on_duty, lat, lon);

CREATE TABLE service_orders (
    id                INTEGER PRIMARY KEY,
    elder_id          BIGINT NOT NULL REFERENCES elders(id),
    region_code       TEXT NOT NULL,
    home_station_id   BIGINT REFERENCES facilities(id),
    item_code         TEXT NOT NULL REFERENCES service_items(code),
    category          TEXT NOT NULL,
    state             TEXT NOT NULL,
    caregiver_id      BIGINT REFERENCES accounts(id),
    placed_by         BIGINT REFERENCES accounts(id),
    price_fen         BIGINT NOT NULL CHECK (price_fen >= 0),
    scheduled_at      BIGINT,
    home_lat          DOUBLE PRECISION NOT NULL,
    home_lon          DOUBLE PRECISION NOT NULL,
    -- The span in the holder's agenda while the order is held; NULL otherwise.
    window_start      BIGINT,
    window_end        BIGINT,
    rating_stars      SMALLINT,
    caregiver_no_show BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at          BIGINT,
    next_due_at       BIGINT,
    order_json        TEXT NOT NULL,
    version           BIGINT NOT NULL DEFAULT 1,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX service_orders_state ON service_orders(state, home_lat, home_lon);
CREATE INDEX service_orders_elder ON service_orders(elder_id, created_at);
CREATE INDEX service_orders_caregiver ON service_orders(caregiver_id, state);
CREATE INDEX service_orders_region ON service_orders(region_code, created_at);
CREATE INDEX service_orders_due ON service_orders(next_due_at) WHERE next_due_at IS NOT NULL;

-- Every step of an order: who, what, from which state to which, and the effects it caused.
CREATE TABLE order_events (
    id         INTEGER PRIMARY KEY,
    order_id   BIGINT NOT NULL REFERENCES service_orders(id),
    at         BIGINT NOT NULL,
    actor_id   BIGINT REFERENCES accounts(id),
    actor_role TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX order_events_order ON order_events(order_id, id);

-- Photos taken at the door, stored by the platform (keyed by content hash per order).
CREATE TABLE order_photos (
    id           INTEGER PRIMARY KEY,
    order_id     BIGINT NOT NULL REFERENCES service_orders(id),
    ref          TEXT NOT NULL,
    caregiver_id BIGINT REFERENCES accounts(id),
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (order_id, ref)
);

CREATE TABLE complaints (
    id           INTEGER PRIMARY KEY,
    order_id     BIGINT REFERENCES service_orders(id),
    elder_id     BIGINT NOT NULL REFERENCES elders(id),
    caregiver_id BIGINT REFERENCES accounts(id),
    region_code  TEXT NOT NULL,
    state        TEXT NOT NULL,
    upheld       BOOLEAN,
    deadline     BIGINT NOT NULL,
    next_due_at  BIGINT,
    case_json    TEXT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX complaints_state ON complaints(state, deadline);
CREATE INDEX complaints_region ON complaints(region_code);
CREATE INDEX complaints_caregiver ON complaints(caregiver_id);
CREATE INDEX complaints_order ON complaints(order_id);
CREATE INDEX complaints_due ON complaints(next_due_at) WHERE next_due_at IS NOT NULL;

-- The lists civil affairs keeps (gov_purchase, charity_meal, veteran, special_family).
CREATE TABLE elder_lists (
    elder_id BIGINT NOT NULL REFERENCES elders(id),
    category TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (elder_id, category)
);
CREATE INDEX elder_lists_category ON elder_lists(category);

-- Settlement rules per region prefix, as data (the rule list as JSON).
CREATE TABLE settlement_rules (
    region_prefix TEXT PRIMARY KEY,
    rules_json    TEXT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE funding_pools (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    region_prefix TEXT NOT NULL,
    balance_fen   BIGINT NOT NULL CHECK (balance_fen >= 0),
    updated_at    BIGINT NOT NULL
);

-- One elder's use of one rule in the current month and year (caps).
CREATE TABLE rule_usage (
    elder_id    BIGINT NOT NULL REFERENCES elders(id),
    rule_code   TEXT NOT NULL,
    year        INTEGER NOT NULL,
    month       INTEGER NOT NULL,
    month_fen   BIGINT NOT NULL CHECK (month_fen >= 0),
    year_fen    BIGINT NOT NULL CHECK (year_fen >= 0),
    month_units INTEGER NOT NULL CHECK (month_units >= 0),
    year_units  INTEGER NOT NULL CHECK (year_units >= 0),
    PRIMARY KEY (elder_id, rule_code)
);

-- A settled service order or meal: the split and everything needed to recompute it.
CREATE TABLE settlements (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    ref_id       BIGINT NOT NULL,
    elder_id     BIGINT NOT NULL REFERENCES elders(id),
    provider_id  BIGINT NOT NULL,
    caregiver_id BIGINT,
    region_code  TEXT NOT NULL,
    category     TEXT NOT NULL,
    service_date TEXT NOT NULL,
    year         INTEGER NOT NULL,
    month        INTEGER NOT NULL,
    price_fen    BIGINT NOT NULL,
    split_json   TEXT NOT NULL,
    trace_json   TEXT NOT NULL,
    input_json   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (kind, ref_id)
);
CREATE INDEX settlements_month ON settlements(year, month);
CREATE INDEX settlements_elder ON settlements(elder_id, year, month);

CREATE TABLE canteen_menus (
    canteen_id BIGINT NOT NULL REFERENCES facilities(id),
    date       TEXT NOT NULL,
    slot       TEXT NOT NULL,
    menu_json  TEXT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (canteen_id, date, slot)
);
CREATE INDEX canteen_menus_date ON canteen_menus(date);

CREATE TABLE meal_orders (
    id          INTEGER PRIMARY KEY,
    elder_id    BIGINT NOT NULL REFERENCES elders(id),
    canteen_id  BIGINT NOT NULL REFERENCES facilities(id),
    region_code TEXT NOT NULL,
    date        TEXT NOT NULL,
    slot        TEXT NOT NULL,
    option_code TEXT NOT NULL,
    fulfilment  TEXT NOT NULL,
    station_id  BIGINT REFERENCES facilities(id),
    state       TEXT NOT NULL,
    price_fen   BIGINT NOT NULL,
    order_json  TEXT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
-- One meal per elder, day and slot (cancelled ones do not count).
CREATE UNIQUE INDEX meal_orders_one_per_slot ON meal_orders(elder_id, date, slot) WHERE state <> 'cancelled';
CREATE INDEX meal_orders_day ON meal_orders(date, slot, canteen_id);
CREATE INDEX meal_orders_station ON meal_orders(date, station_id);

CREATE TABLE timebank_volunteers (
    elder_id  BIGINT PRIMARY KEY REFERENCES elders(id),
    skills    TEXT NOT NULL,
    capacity  INTEGER NOT NULL CHECK (capacity >= 0),
    active    BOOLEAN NOT NULL DEFAULT TRUE,
    joined_at BIGINT NOT NULL
);

CREATE TABLE timebank_records (
    id           INTEGER PRIMARY KEY,
    volunteer_id BIGINT NOT NULL REFERENCES elders(id),
    elder_id     BIGINT NOT NULL REFERENCES elders(id),
    minutes      INTEGER NOT NULL CHECK (minutes > 0),
    state        TEXT NOT NULL,
    record_json  TEXT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX timebank_records_volunteer ON timebank_records(volunteer_id);
CREATE INDEX timebank_records_elder ON timebank_records(elder_id);

-- The double-entry ledger: every posting moves minutes out of one account into another.
CREATE TABLE timebank_postings (
    id           INTEGER PRIMARY KEY,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    debit        TEXT NOT NULL,
    credit       TEXT NOT NULL,
    minutes      INTEGER NOT NULL CHECK (minutes > 0),
    reference    BIGINT,
    posting_json TEXT NOT NULL
);
CREATE INDEX timebank_postings_debit ON timebank_postings(debit);
CREATE INDEX timebank_postings_credit ON timebank_postings(credit);

-- Balances per ledger account (`volunteer:<id>`, `pending:<id>`, `issued`, `redeemed`).
-- Volunteer and pending accounts never go below zero (guarded updates and this check).
CREATE TABLE timebank_balances (
    account TEXT PRIMARY KEY,
    minutes BIGINT NOT NULL,
    CHECK (minutes >= 0 OR account IN ('issued', 'redeemed'))
);

CREATE TABLE timebank_pairs (
    id           INTEGER PRIMARY KEY,
    volunteer_id BIGINT NOT NULL REFERENCES elders(id),
    elder_id     BIGINT NOT NULL REFERENCES elders(id),
    created_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX timebank_pairs_volunteer ON timebank_pairs(volunteer_id);

-- Records others reference are never deleted; histories are append-only.
CREATE TRIGGER service_items_no_delete BEFORE DELETE ON service_items
BEGIN SELECT RAISE(ABORT, 'service_items rows are never deleted'); END;
CREATE TRIGGER service_orders_no_delete BEFORE DELETE ON service_orders
BEGIN SELECT RAISE(ABORT, 'service_orders rows are never deleted'); END;
CREATE TRIGGER complaints_no_delete BEFORE DELETE ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints rows are never deleted'); END;
CREATE TRIGGER meal_orders_no_delete BEFORE DELETE ON meal_orders
BEGIN SELECT RAISE(ABORT, 'meal_orders rows are never deleted'); END;
CREATE TRIGGER timebank_records_no_delete BEFORE DELETE ON timebank_records
BEGIN SELECT RAISE(ABORT, 'timebank_records rows are never deleted'); END;
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_photos_no_update BEFORE UPDATE ON order_photos
BEGIN SELECT RAISE(ABORT, 'order_photos is append-only'); END;
CREATE TRIGGER order_photos_no_delete BEFORE DELETE ON order_photos
BEGIN SELECT RAISE(ABORT, 'order_photos is append-only'); END;
CREATE TRIGGER settlements_no_update BEFORE UPDATE ON settlements
BEGIN SELECT RAISE(ABORT, 'settlements is append-only'); END;
CREATE TRIGGER settlements_no_delete BEFORE DELETE ON settlements
BEGIN SELECT RAISE(ABORT, 'settlements is append-only'); END;
CREATE TRIGGER timebank_postings_no_update BEFORE UPDATE ON timebank_postings
BEGIN SELECT RAISE(ABORT, 'timebank_postings is append-only'); END;
CREATE TRIGGER timebank_postings_no_delete BEFORE DELETE ON timebank_postings
BEGIN SELECT RAISE(ABORT, 'timebank_postings is append-only'); END;
