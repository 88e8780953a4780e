-- Record documents as `json`, kept verbatim, instead of `jsonb`. Records are only ever read
-- whole (`doc::text`) and a few fields indexed for listing (`->>` works on both): PostgreSQL
-- no longer builds a binary document on every import nor renders one back to text on every
-- read, and the text read back is exactly the text written. Changing the type rewrites each
-- table and rebuilds its indexes once, on the first start after an upgrade.
ALTER TABLE alipay_trade ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE koubei_order ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE onsite_trade ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE omni_order ALTER COLUMN doc TYPE json USING doc::json;
