-- The Metrics service's schema. Later changes go in new numbered scripts; applied scripts are never edited.

CREATE TABLE metrics (
    id                     uuid PRIMARY KEY,
    key                    text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(key) <= 64),
    name                   text NOT NULL CHECK (length(btrim(name)) > 0),
    description            text NOT NULL,
    kind                   text NOT NULL CHECK (kind IN ('built_in', 'custom')),
    type                   text NOT NULL CHECK (type IN ('quantitative', 'qualitative')),
    scope                  text NOT NULL CHECK (scope IN ('turn', 'conversation')),
    scale_min              double precision,
    scale_max              double precision,
    labels                 text[],
    current_version        integer NOT NULL CHECK (current_version >= 1),
    forked_from_metric_id  uuid,
    forked_from_version    integer,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT metrics_scale_matches_type CHECK (
        (type = 'quantitative' AND scale_min IS NOT NULL AND scale_max IS NOT NULL AND scale_min < scale_max AND labels IS NULL)
        OR (type = 'qualitative' AND scale_min IS NULL AND scale_max IS NULL AND cardinality(labels) >= 2)),
    CONSTRAINT metrics_fork_origin_complete CHECK ((forked_from_metric_id IS NULL) = (forked_from_version IS NULL))
);

-- Versions are immutable: each row is what a judge was (or will be) prompted with, and scores refer to it.
CREATE TABLE metric_versions (
    metric_id             uuid NOT NULL REFERENCES metrics (id),
    version               integer NOT NULL CHECK (version >= 1),
    system_prompt         text NOT NULL,
    user_prompt_template  text NOT NULL,
    created_by_kind       text NOT NULL CHECK (created_by_kind IN ('seed', 'manual', 'alignment_run')),
    created_by_author     text NOT NULL,
    alignment_run_id      uuid,
    change_note           text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (metric_id, version),
    CONSTRAINT metric_versions_run_matches_kind CHECK ((created_by_kind = 'alignment_run') = (alignment_run_id IS NOT NULL))
);

-- A metric's current version and a fork's origin must exist. Deferred, because a metric and its first version
-- are inserted in the same transaction.
ALTER TABLE metrics
    ADD CONSTRAINT metrics_current_version_exists FOREIGN KEY (id, current_version)
        REFERENCES metric_versions (metric_id, version) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT metrics_fork_origin_exists FOREIGN KEY (forked_from_metric_id, forked_from_version)
        REFERENCES metric_versions (metric_id, version);

CREATE INDEX metrics_forked_from ON metrics (forked_from_metric_id) WHERE forked_from_metric_id IS NOT NULL;

CREATE FUNCTION metric_versions_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'metric versions are immutable; publish a new version instead';
END
$$;

CREATE TRIGGER metric_versions_immutable BEFORE UPDATE OR DELETE ON metric_versions
    FOR EACH ROW EXECUTE FUNCTION metric_versions_are_immutable();

-- One row per alignment-run request that changed a metric: the run id is the idempotency key, so a redelivered
-- or repeated CreateMetricFork / CreateMetricVersion answers with what the first one made and creates nothing.
CREATE TABLE alignment_run_changes (
    run_id      uuid NOT NULL,
    change      text NOT NULL CHECK (change IN ('fork', 'version')),
    metric_id   uuid NOT NULL,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, change),
    FOREIGN KEY (metric_id, version) REFERENCES metric_versions (metric_id, version)
);
