-- 0003_access: owners of images and API keys.
--
-- images.owner_hash is the hex SHA-256 of the owner token the upload's 202
-- gave out (the token itself is never stored); NULL for images from before
-- owners existed, which only an admin key may delete or read the original of.
--
-- api_keys holds keys made by `imgctl keys create`: the hex SHA-256 of the
-- whole key (looked up on every request that presents one), the first
-- characters for people to recognise it, its scopes, and when it was revoked
-- (a revoked key is kept, so lists show it, and never matches again). The
-- unique index on hash is the lookup's path; scopes are stored by name, in
-- the order of the ApiScope enum.

ALTER TABLE images ADD COLUMN owner_hash text
    CHECK (owner_hash IS NULL OR owner_hash ~ '^[0-9a-f]{64}$');

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix     text NOT NULL CHECK (left(prefix, 4) = 'ipk_' AND octet_length(prefix) <= 16),
    hash       text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    scopes     text[] NOT NULL
               CHECK (cardinality(scopes) >= 1
                      AND scopes <@ ARRAY['read', 'upload', 'delete', 'admin']::text[]),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
