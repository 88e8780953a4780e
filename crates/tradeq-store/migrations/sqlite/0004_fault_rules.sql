-- Fault injection rules of the sandbox, shared by every process on the database. `doc` is the
-- rule as the server understands it (JSON); the store only counts: `matched` is how many
-- requests the rule matched, `hits` how many it was applied to, never more than `times`.
-- `created_at` is epoch milliseconds; `seq` keeps the order rules were added in.
CREATE TABLE fault_rule (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    times      INTEGER,
    matched    INTEGER NOT NULL DEFAULT 0,
    hits       INTEGER NOT NULL DEFAULT 0,
    doc        TEXT    NOT NULL
);
