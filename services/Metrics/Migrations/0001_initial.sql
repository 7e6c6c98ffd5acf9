-- The Metrics service's schema. Later changes go in new numbered scripts; applied scripts are never edited.
SELECT 1;
