-- Stands for a service's own tables: the state change an outbox message announces, and a consumer's effects.
CREATE TABLE probes (
    key   uuid PRIMARY KEY,
    text  text NOT NULL
);

-- Not unique on purpose: a consumer that applied a message twice shows up as two rows.
CREATE TABLE probe_effects (
    key         uuid NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
