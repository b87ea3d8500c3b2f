-- SPEC §9: the private half of each account's own signing key is sealed under the
-- operator's master key (see master_key.rs); this is the id of the master key that
-- sealed it. NULL with a private key present: written before sealing existed, in the
-- clear; `usher serve` seals such rows when it starts.
ALTER TABLE signing_keys ADD COLUMN master_key_id TEXT;
