-- Metrics belong to a workspace (issue #8). A custom metric belongs to exactly one workspace. Built-in metrics have
-- workspace NULL: they are one shared catalogue that every workspace reads and forks, seeded and versioned once by the
-- service; copying them into each workspace would mean seeding every workspace (including ones created later) and
-- publishing each release's prompt changes once per workspace. NULL here means "every workspace", never "unknown".

ALTER TABLE metrics ADD COLUMN workspace text;

-- Every custom metric made before workspaces existed belongs to the default workspace.
UPDATE metrics SET workspace = 'default' WHERE kind = 'custom';

ALTER TABLE metrics
    ADD CONSTRAINT metrics_workspace_matches_kind CHECK ((kind = 'built_in') = (workspace IS NULL)),
    -- The slug rule of Caller.IsValidWorkspace.
    ADD CONSTRAINT metrics_workspace_is_slug CHECK (workspace ~ '^[a-z0-9_-]{1,64}$');

-- Keys were unique across the whole table; now a custom key is unique within its workspace, and a built-in key is taken
-- in every workspace (a custom metric can never shadow one, so a key always names one metric for a caller).
-- This is one exclusion constraint rather than two unique indexes plus a trigger, so that it holds under concurrent
-- inserts and so that INSERT ... ON CONFLICT DO NOTHING still reports a taken key. Two rows conflict when their keys
-- are equal and their workspace spans overlap: a custom metric spans just its workspace, a built-in spans all of
-- them. Keys and workspaces become single-point ranges because core PostgreSQL's GiST supports && on ranges, whereas
-- = on text inside an exclusion constraint would need the btree_gist extension (not available on every host).
CREATE TYPE metric_text_span AS RANGE (subtype = text, collation = "C");

ALTER TABLE metrics DROP CONSTRAINT metrics_key_key;

ALTER TABLE metrics ADD CONSTRAINT metrics_key_unique_per_workspace EXCLUDE USING gist (
    metric_text_span(key, key, '[]') WITH &&,
    (CASE WHEN workspace IS NULL THEN metric_text_span(NULL, NULL) ELSE metric_text_span(workspace, workspace, '[]') END) WITH &&
);

-- Lookups by key (a caller's: the built-in or their workspace's) and the list of a workspace's metrics.
CREATE INDEX metrics_key ON metrics (key, workspace);
CREATE INDEX metrics_workspace ON metrics (workspace, kind, key);
