-- The Annotations service's schema. Later changes go in new numbered scripts; applied scripts are never edited.
--
-- The per-row tables (judge_scores, annotations, resolutions, their histories) carry no foreign keys: an import
-- writes millions of them in one statement and a foreign key check per record would multiply its time several
-- fold. They are written only by this service, always for a row it has just inserted or locked in the same
-- transaction, so the reference cannot dangle; rows themselves do reference their evaluation.

CREATE TABLE evaluations (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('running', 'completed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX evaluations_name ON evaluations (name);
CREATE INDEX evaluations_completed ON evaluations (created_at) WHERE status = 'completed';

-- The metrics an evaluation scores, as the Metrics service described them when they were declared.
CREATE TABLE evaluation_metrics (
    evaluation_id    uuid NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    metric_id        uuid NOT NULL,
    metric_key       text NOT NULL,
    metric_type      text NOT NULL CHECK (metric_type IN ('quantitative', 'qualitative')),
    resolution_rule  text NOT NULL DEFAULT 'none' CHECK (resolution_rule IN ('none', 'median', 'mean', 'majority')),
    PRIMARY KEY (evaluation_id, metric_id)
);
CREATE INDEX evaluation_metrics_metric ON evaluation_metrics (metric_id);

CREATE TABLE rows (
    id              uuid PRIMARY KEY,
    evaluation_id   uuid NOT NULL REFERENCES evaluations (id) ON DELETE CASCADE,
    ordinal         integer NOT NULL,
    external_id     text,
    input_text      text,
    input_messages  jsonb,
    output          text NOT NULL,
    context         text,
    tags            jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK ((input_text IS NULL) <> (input_messages IS NULL))
);
-- Stable order and keyset paging within and across evaluations.
CREATE UNIQUE INDEX rows_evaluation_ordinal ON rows (evaluation_id, ordinal);

CREATE TABLE judge_scores (
    row_id       uuid NOT NULL,
    metric_id    uuid NOT NULL,
    score        double precision,
    label        text,
    explanation  text,
    model        text,
    PRIMARY KEY (row_id, metric_id)
);

-- One current annotation per reviewer per (row, metric); replaced versions go to annotation_revisions.
CREATE TABLE annotations (
    row_id       uuid NOT NULL,
    metric_id    uuid NOT NULL,
    reviewer_id  text NOT NULL,
    score        double precision,
    label        text,
    comment      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (row_id, metric_id, reviewer_id),
    CHECK ((score IS NULL) <> (label IS NULL))
);

CREATE TABLE annotation_revisions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_id       uuid NOT NULL,
    metric_id    uuid NOT NULL,
    reviewer_id  text NOT NULL,
    score        double precision,
    label        text,
    comment      text,
    annotated_at timestamptz NOT NULL,
    replaced_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annotation_revisions_target ON annotation_revisions (row_id, metric_id, reviewer_id);

-- The one agreed value of a (row, metric). evaluation_id is copied from the row so that the per-evaluation
-- counts the alignment asks for are answered from this table's index alone.
CREATE TABLE resolutions (
    row_id         uuid NOT NULL,
    metric_id      uuid NOT NULL,
    evaluation_id  uuid NOT NULL,
    score          double precision,
    label          text,
    method         text NOT NULL CHECK (method IN ('single_reviewer', 'unanimous', 'explicit', 'median', 'mean', 'majority')),
    resolved_by    text,
    note           text,
    resolved_at    timestamptz NOT NULL DEFAULT now(),
    revision       integer NOT NULL,
    PRIMARY KEY (row_id, metric_id),
    CHECK ((score IS NULL) <> (label IS NULL))
);
CREATE INDEX resolutions_metric_evaluation ON resolutions (metric_id, evaluation_id);

-- Every resolution and revision ever made, including a value withdrawn because reviewers stopped agreeing
-- (method 'unresolved', no value).
CREATE TABLE resolution_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_id         uuid NOT NULL,
    metric_id      uuid NOT NULL,
    revision       integer NOT NULL,
    score          double precision,
    label          text,
    method         text NOT NULL,
    resolved_by    text,
    note           text,
    resolved_at    timestamptz NOT NULL,
    UNIQUE (row_id, metric_id, revision)
);
