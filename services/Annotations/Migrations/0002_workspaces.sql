-- Evaluations belong to a workspace (docs/security.md); everything under one (metrics declared, rows, annotations,
-- resolutions) is reached through it, so only this table carries the column. Existing evaluations move to 'default'.
--
-- The per-row tables stay as they are: the import writes millions of their records and the resolved-rows stream
-- reads them by evaluation id, which the endpoints have already checked against the caller's workspace.

ALTER TABLE evaluations ADD COLUMN workspace text NOT NULL DEFAULT 'default'
    CHECK (workspace ~ '^[a-z0-9_-]{1,64}$');
-- Every insert names its workspace; a writer that forgets must fail, not land in 'default'.
ALTER TABLE evaluations ALTER COLUMN workspace DROP DEFAULT;

-- Listing (by name, in creation order) and eligibility (completed, in creation order) within one workspace.
DROP INDEX evaluations_name;
CREATE INDEX evaluations_workspace_name ON evaluations (workspace, name);
CREATE INDEX evaluations_workspace_created ON evaluations (workspace, created_at, id);
DROP INDEX evaluations_completed;
CREATE INDEX evaluations_workspace_completed ON evaluations (workspace, created_at, id) WHERE status = 'completed';
