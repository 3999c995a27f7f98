-- 0001: the transactions table (Klerno's `txs`) and the indexes its queries need.
--
-- One row per stored transaction, keyed by tx_id: writes are idempotent
-- (INSERT ... ON CONFLICT (tx_id) DO NOTHING), so a retried request never duplicates a row.
--
-- Column types:
-- - amount, fee: NUMERIC(39,18), exact decimals with 18 fractional digits; 21 integer digits
--   hold every value of the runtime's decimal type (a signed 128-bit count of 1e-18 units,
--   |x| < 1.7e20), so a stored amount always reads back unchanged.
-- - time: timestamptz (microseconds, UTC); the runtime writes and reads it exactly.
-- - risk_score: SMALLINT hundredths (45 = 0.45), 0..100.
-- - tags, risk_flags: text[] (risk_flags in rule order).
-- - created_at: when the row was stored (server clock).
--
-- Indexes and the queries they serve (keyset pagination compares (time, tx_id) row values):
-- - txs_from_time_idx (from_addr, time DESC, tx_id DESC): a wallet's listing (sent side),
--   wallet history, the CSV export of one wallet (scanned backwards for ascending order);
-- - txs_to_time_idx   (to_addr, time DESC, tx_id DESC): a wallet's listing (received side), the
--   export of one wallet;
-- - txs_time_idx      (time, tx_id): the export of every wallet, summaries over a time window,
--   alerts with a low threshold (scanned backwards, newest first);
-- - txs_risk_time_idx (risk_score, time): alerts with a selective threshold.

CREATE TABLE txs (
  tx_id       text           NOT NULL PRIMARY KEY,
  time        timestamptz    NOT NULL,
  chain       text           NOT NULL DEFAULT 'XRPL',
  from_addr   text           NOT NULL,
  to_addr     text           NOT NULL,
  amount      numeric(39,18) NOT NULL,
  symbol      text           NOT NULL DEFAULT 'XRP',
  direction   text           NOT NULL DEFAULT '',
  fee         numeric(39,18) NOT NULL DEFAULT 0,
  memo        text           NOT NULL DEFAULT '',
  notes       text           NOT NULL DEFAULT '',
  tags        text[]         NOT NULL DEFAULT '{}',
  is_internal boolean        NOT NULL DEFAULT false,
  category    text           NOT NULL DEFAULT 'unknown',
  risk_score  smallint       NOT NULL DEFAULT 0 CHECK (risk_score BETWEEN 0 AND 100),
  risk_flags  text[]         NOT NULL DEFAULT '{}',
  risk_bucket text           NOT NULL DEFAULT 'low',
  created_at  timestamptz    NOT NULL DEFAULT now()
);

COMMENT ON TABLE txs IS 'Stored transactions (Klerno TaggedTransaction), idempotent on tx_id';
COMMENT ON COLUMN txs.risk_score IS 'risk score in hundredths (45 = 0.45), 0..100';

CREATE INDEX txs_from_time_idx ON txs (from_addr, time DESC, tx_id DESC);
CREATE INDEX txs_to_time_idx ON txs (to_addr, time DESC, tx_id DESC);
CREATE INDEX txs_time_idx ON txs (time, tx_id);
CREATE INDEX txs_risk_time_idx ON txs (risk_score, time);
