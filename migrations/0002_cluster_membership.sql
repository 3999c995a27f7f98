-- 0002: the cluster membership table, the source of truth of the cluster (the Orleans model).
-- The operations on it are specified in cluster/membership_db.hpp and implemented in
-- actors/storage/pg/membership_pg.cpp.
--
-- - cluster_version: ONE row, the table version. Every change of cluster_members or
--   cluster_suspicions (except heartbeats) happens in a transaction that first locks this row
--   (SELECT ... FOR UPDATE), checks that the version is the one the writer read, and bumps it by
--   one: optimistic concurrency, race-free, and a single lock order (so no deadlocks).
-- - cluster_members: one row per incarnation of a node (a node that restarts, or that was
--   declared dead and comes back, is a new row with a higher incarnation). Statuses only move
--   forward (joining -> up -> leaving -> exiting -> dead); dead is final. heartbeat_at is updated
--   by the member itself without bumping any version (IAmAlive). row_version counts the changes
--   of the row (status, votes), heartbeats excluded.
-- - cluster_suspicions: the votes of members against a member (one per voter incarnation, its
--   time refreshed on every new vote); a member is declared dead once enough fresh votes exist.
--   Votes go with either row (ON DELETE CASCADE).
--
-- Every time is the database's clock (now()), never a node's.

CREATE TABLE cluster_version (
  id      boolean NOT NULL DEFAULT true PRIMARY KEY CHECK (id),
  version bigint  NOT NULL CHECK (version >= 0)
);

INSERT INTO cluster_version (id, version) VALUES (true, 0);

COMMENT ON TABLE cluster_version IS
  'The membership table version (one row), bumped by every change except heartbeats';

CREATE TABLE cluster_members (
  name         text        NOT NULL CHECK (name <> ''),
  incarnation  bigint      NOT NULL CHECK (incarnation >= 0),
  address      text        NOT NULL,
  app_version  text        NOT NULL,
  role         text        NOT NULL CHECK (role IN ('edge', 'worker', 'both')),
  status       text        NOT NULL
               CHECK (status IN ('joining', 'up', 'leaving', 'exiting', 'dead')),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  joined_at    timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  row_version  bigint      NOT NULL DEFAULT 1,
  PRIMARY KEY (name, incarnation)
);

COMMENT ON TABLE cluster_members IS
  'Cluster members, one row per node incarnation (source of truth of the cluster)';
COMMENT ON COLUMN cluster_members.incarnation IS
  'start time of the node process, ms since the Unix epoch';

CREATE TABLE cluster_suspicions (
  name              text        NOT NULL,
  incarnation       bigint      NOT NULL,
  voter_name        text        NOT NULL,
  voter_incarnation bigint      NOT NULL,
  at                timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, incarnation, voter_name, voter_incarnation),
  FOREIGN KEY (name, incarnation) REFERENCES cluster_members (name, incarnation)
    ON DELETE CASCADE,
  FOREIGN KEY (voter_name, voter_incarnation) REFERENCES cluster_members (name, incarnation)
    ON DELETE CASCADE
);

CREATE INDEX cluster_suspicions_voter_idx ON cluster_suspicions (voter_name, voter_incarnation);

COMMENT ON TABLE cluster_suspicions IS
  'Votes of members (voter) against a member (name, incarnation); at = last vote';
