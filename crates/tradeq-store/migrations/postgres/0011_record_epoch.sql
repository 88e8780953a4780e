-- The record epoch: one counter that every statement writing a record table bumps, in the
-- writer's own transaction, so the new value becomes visible exactly when the write does. Every
-- node polls it and keeps its cache of decoded records only while it is unchanged. A statement
-- trigger, so that writes from outside tradeq (psql, a restore) count too; writers already
-- serialize on the audit_log lock, so the one row adds no contention of its own.
CREATE TABLE record_epoch (
    id INT    NOT NULL PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO record_epoch (id, n) VALUES (1, 0);

CREATE FUNCTION bump_record_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE record_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER alipay_trade_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alipay_trade
    FOR EACH STATEMENT EXECUTE FUNCTION bump_record_epoch();
CREATE TRIGGER koubei_order_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON koubei_order
    FOR EACH STATEMENT EXECUTE FUNCTION bump_record_epoch();
CREATE TRIGGER onsite_trade_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON onsite_trade
    FOR EACH STATEMENT EXECUTE FUNCTION bump_record_epoch();
CREATE TRIGGER omni_order_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON omni_order
    FOR EACH STATEMENT EXECUTE FUNCTION bump_record_epoch();
