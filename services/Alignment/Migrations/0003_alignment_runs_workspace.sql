-- Runs belong to a workspace; runs from before workspaces existed belong to 'default'. The column is what the API
-- filters on; the document carries the same value for the saga.
ALTER TABLE alignment_runs ADD COLUMN workspace text NOT NULL DEFAULT 'default';
-- New rows must name their workspace: a forgotten value is an error, not a run silently filed under 'default'.
ALTER TABLE alignment_runs ALTER COLUMN workspace DROP DEFAULT;

UPDATE alignment_runs SET document = jsonb_set(document, '{workspace}', to_jsonb(workspace))
WHERE document -> 'workspace' IS NULL;

-- A metric's history is always read within one workspace.
DROP INDEX ix_alignment_runs_metric_history;
CREATE INDEX ix_alignment_runs_metric_history ON alignment_runs (workspace, metric_id, created_at DESC);
