-- Where an interrupted `tradeq import` of one file stopped, kept in the store it loads into and
-- written in the same transaction as each batch: a checkpoint can never run ahead of (or lag
-- behind) the records, and an import of the same file into another store starts afresh.
-- `file_id` names the file (a digest of its canonical path); `file_len` and `modified_ns` tell
-- whether it changed since.
CREATE TABLE import_checkpoint (
    file_id     TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    file_len    BIGINT NOT NULL,
    modified_ns BIGINT NOT NULL,
    byte_offset BIGINT NOT NULL,
    line        BIGINT NOT NULL,
    PRIMARY KEY (file_id, kind)
);
