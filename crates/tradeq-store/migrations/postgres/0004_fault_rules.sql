-- Fault injection rules of the sandbox, shared by every node on the database. Kept in step with
-- ../sqlite/0004_fault_rules.sql. `doc` is the rule as the server understands it (JSON); the
-- store only counts: `matched` is how many requests the rule matched, `hits` how many it was
-- applied to, never more than `times` (the conditional UPDATE is atomic across nodes).
CREATE TABLE fault_rule (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    times      BIGINT,
    matched    BIGINT  NOT NULL DEFAULT 0,
    hits       BIGINT  NOT NULL DEFAULT 0,
    doc        TEXT    NOT NULL
);
