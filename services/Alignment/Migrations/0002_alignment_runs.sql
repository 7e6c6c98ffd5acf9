-- Alignment runs, owned by the AlignmentRun saga. The document holds the whole run (options, phases, statistics,
-- guidelines, refined prompts, error, attempts, outcome); the columns are what queries filter and sort on.
CREATE TABLE alignment_runs (
    correlation_id    uuid PRIMARY KEY,
    current_state     text NOT NULL,
    -- Incremented by every update; the row lock (SELECT ... FOR UPDATE) is what serialises writers.
    version           integer NOT NULL,
    -- The empty uuid for a tombstone left by a cancel that arrived before its start.
    metric_id         uuid NOT NULL,
    metric_key        text,
    attempt           integer NOT NULL,
    phase             text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_progress_at  timestamptz NOT NULL,
    document          jsonb NOT NULL
);

CREATE INDEX ix_alignment_runs_metric_history ON alignment_runs (metric_id, created_at DESC);
-- The sweeper looks only at runs still waiting for or held by a worker.
CREATE INDEX ix_alignment_runs_active ON alignment_runs (last_progress_at) WHERE current_state IN ('Pending', 'Running');
