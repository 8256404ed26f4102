-- Per-server settings an admin chooses; a server without a row has the defaults (UTC).
CREATE TABLE guild_settings (
    guild_id   INTEGER PRIMARY KEY,
    timezone   TEXT NOT NULL,  -- an IANA name, checked against zoneinfo before it is stored
    updated_at TEXT NOT NULL
);
