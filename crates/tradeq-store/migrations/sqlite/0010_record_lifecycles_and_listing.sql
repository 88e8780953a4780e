-- Record lifecycles and record listing, SQLite flavour. Kept in step with
-- ../postgres/0010_record_lifecycles_and_listing.sql.
--
-- A record's timeline travels in its document; its progress (steps dealt with, queries counted,
-- the business time the record was written, refused steps) is this row's JSON `state`, updated
-- in the transaction of each query that finds the record.
CREATE TABLE record_lifecycle (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);

-- Listing pages through a kind in primary-key order, optionally by merchant, key, status or
-- modification time; the equality filters' indexes end in the primary key, so a page needs no sort.
CREATE INDEX alipay_trade_merchant_pk ON alipay_trade (merchant, trade_no);
CREATE INDEX alipay_trade_out_trade_no ON alipay_trade (out_trade_no);
CREATE INDEX alipay_trade_gmt_modified ON alipay_trade (gmt_modified);
CREATE INDEX alipay_trade_status ON alipay_trade (json_extract(doc, '$.trade_status'), trade_no);

CREATE INDEX koubei_order_merchant_pk ON koubei_order (merchant, order_no);
CREATE INDEX koubei_order_gmt_modified ON koubei_order (gmt_modified);
CREATE INDEX koubei_order_status ON koubei_order (json_extract(doc, '$.status'), order_no);

CREATE INDEX onsite_trade_merchant_pk ON onsite_trade (merchant, trade_no);
CREATE INDEX onsite_trade_out_trade_no ON onsite_trade (out_trade_no);
CREATE INDEX onsite_trade_short_trade_no ON onsite_trade (short_trade_no);
CREATE INDEX onsite_trade_gmt_modified ON onsite_trade (gmt_modified);
CREATE INDEX onsite_trade_status ON onsite_trade (json_extract(doc, '$.trade_status'), trade_no);

CREATE INDEX omni_order_merchant_pk ON omni_order (merchant, order_id);
CREATE INDEX omni_order_gmt_modified ON omni_order (gmt_modified);
CREATE INDEX omni_order_status ON omni_order (json_extract(doc, '$.pay_status'), order_id);
CREATE INDEX omni_order_out_order_id ON omni_order (json_extract(doc, '$.out_order_id'), order_id);
