-- The purge of ended claims (every ten minutes) finds them through this index. Without it, it
-- read every claim kept (a day of creates or more, each with its fields and answer) to delete
-- ten minutes' worth, on SQLite while holding the writer that every create waits on.
CREATE INDEX claims_by_expiry ON claims (expires_at);
