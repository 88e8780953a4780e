-- tradeq schema, PostgreSQL flavour. Kept in step with ../sqlite/0001_init.sql.
--
-- Records: the keys in indexed columns plus the JSONB document, so every lookup is one indexed
-- point lookup. `merchant` is the owner every lookup is scoped to. `gmt_modified` is whole epoch
-- seconds, NULL when the record carries none (which orders first, as VersionStamp does);
-- `version` is 0 when absent.

CREATE TABLE alipay_trade (
    trade_no     TEXT   NOT NULL PRIMARY KEY,
    merchant     TEXT   NOT NULL,
    out_trade_no TEXT   NOT NULL,
    gmt_modified BIGINT,
    version      BIGINT NOT NULL,
    doc          JSONB  NOT NULL
);
CREATE UNIQUE INDEX alipay_trade_merchant_out_trade_no ON alipay_trade (merchant, out_trade_no);

CREATE TABLE koubei_order (
    order_no     TEXT   NOT NULL PRIMARY KEY,
    merchant     TEXT   NOT NULL,
    gmt_modified BIGINT,
    version      BIGINT NOT NULL,
    doc          JSONB  NOT NULL
);

CREATE TABLE onsite_trade (
    trade_no       TEXT   NOT NULL PRIMARY KEY,
    merchant       TEXT   NOT NULL,
    out_trade_no   TEXT   NOT NULL,
    short_trade_no TEXT,
    gmt_modified   BIGINT,
    version        BIGINT NOT NULL,
    doc            JSONB  NOT NULL
);
CREATE UNIQUE INDEX onsite_trade_merchant_out_trade_no ON onsite_trade (merchant, out_trade_no);
-- NULLs are distinct in a unique index: trades without a short number never collide.
CREATE UNIQUE INDEX onsite_trade_merchant_short_trade_no ON onsite_trade (merchant, short_trade_no);

CREATE TABLE omni_order (
    order_id     TEXT   NOT NULL PRIMARY KEY,
    merchant     TEXT   NOT NULL,
    gmt_modified BIGINT,
    version      BIGINT NOT NULL,
    doc          JSONB  NOT NULL
);

-- Every accepted write and every delete. Writers lock this table (EXCLUSIVE mode, which still
-- admits readers) for the whole transaction, so sequence numbers become visible in order and
-- `audit_since` never skips a row committed late.
CREATE TABLE audit_log (
    seq          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind         TEXT        NOT NULL,
    key          TEXT        NOT NULL,
    merchant     TEXT        NOT NULL,
    action       TEXT        NOT NULL CHECK (action IN ('inserted', 'updated', 'deleted')),
    gmt_modified BIGINT,
    version      BIGINT      NOT NULL
);

-- Credentials: key columns plus the credential as a JSON document. Tokens and sessions belong
-- to their app and go with it.
CREATE TABLE alipay_app (
    app_id       TEXT  NOT NULL PRIMARY KEY,
    merchant_pid TEXT  NOT NULL,
    doc          JSONB NOT NULL
);

CREATE TABLE app_auth_token (
    token        TEXT  NOT NULL PRIMARY KEY,
    app_id       TEXT  NOT NULL REFERENCES alipay_app (app_id) ON DELETE CASCADE,
    merchant_pid TEXT  NOT NULL,
    doc          JSONB NOT NULL
);
CREATE INDEX app_auth_token_app_id ON app_auth_token (app_id);

CREATE TABLE top_app (
    app_key     TEXT  NOT NULL PRIMARY KEY,
    merchant_id TEXT  NOT NULL,
    doc         JSONB NOT NULL
);

CREATE TABLE top_session (
    session     TEXT  NOT NULL PRIMARY KEY,
    app_key     TEXT  NOT NULL REFERENCES top_app (app_key) ON DELETE CASCADE,
    merchant_id TEXT  NOT NULL,
    doc         JSONB NOT NULL
);
CREATE INDEX top_session_app_key ON top_session (app_key);

CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- v3 nonces seen within their window, shared by every gateway node; `expires_at` is epoch
-- milliseconds. An expired row may be reclaimed by the same nonce, and expired rows are purged
-- a few thousand at a time.
CREATE TABLE used_nonce (
    app_id     TEXT   NOT NULL,
    nonce      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, nonce)
);
CREATE INDEX used_nonce_expires_at ON used_nonce (expires_at);
