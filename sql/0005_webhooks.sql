-- 0005_webhooks: the key an image was uploaded with, idempotent uploads,
-- webhook subscriptions and their outbox.
--
-- images.key_id is the API key the upload presented (NULL: anonymous or an
-- owner token). Keys are never deleted (a revoked key stays), so it needs no
-- foreign key. Duplicates are looked up per key by (key_id, sha256); the
-- listing's checksum filter reads (sha256, created_at, id).
--
-- idempotency_keys: one record per (scope, key) of an upload that carried an
-- Idempotency-Key, written with the image row, gone with it (ON DELETE
-- CASCADE: an upload undone leaves no record). scope is the key's id as text,
-- or '' for uploads without a key. response is the first answer's body,
-- sealed by the gateway (it carries the owner token, which is never stored in
-- the clear). Records older than 24 h are ignored and removed.
--
-- webhook_subscriptions: a deleted subscription keeps its row (deleted_at)
-- so its delivery log stays readable; secret is what the dispatcher signs
-- with, so it is kept as given ("whsec_" + base64).
--
-- webhook_deliveries is the outbox: one row per (change, subscription),
-- inserted in the transaction that commits the change, its body fixed then.
-- seq orders the rows of one (subscription, image): a delivery is handed out
-- only when no earlier one of the same pair is still pending. image_id has
-- no foreign key: the image.deleted delivery outlives its image. Finished
-- deliveries (delivered, failed, cancelled) are kept for 30 days.

ALTER TABLE images ADD COLUMN key_id uuid;

CREATE INDEX images_key_sha_idx ON images (key_id, sha256, created_at DESC)
    WHERE key_id IS NOT NULL;
CREATE INDEX images_sha_created_idx ON images (sha256, created_at DESC, id DESC);

CREATE TABLE idempotency_keys (
    scope          text NOT NULL,
    key            text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
    request_sha256 text NOT NULL CHECK (request_sha256 ~ '^[0-9a-f]{64}$'),
    image_id       uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    status         integer NOT NULL CHECK (status BETWEEN 200 AND 299),
    response       bytea NOT NULL CHECK (octet_length(response) <= 8192),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_image_idx ON idempotency_keys (image_id);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE webhook_subscriptions (
    id              uuid PRIMARY KEY,
    url             text NOT NULL
                    CHECK (octet_length(url) <= 2048 AND url ~ '^https?://[^/?#]+'),
    secret          text NOT NULL CHECK (left(secret, 6) = 'whsec_'),
    events          text[] NOT NULL
                    CHECK (cardinality(events) >= 1
                           AND events <@ ARRAY['image.ready', 'image.failed',
                                               'image.deleted']::text[]),
    key_id          uuid,
    own_images_only boolean NOT NULL DEFAULT false
                    CHECK (NOT own_images_only OR key_id IS NOT NULL),
    description     text NOT NULL DEFAULT '' CHECK (octet_length(description) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX webhook_subscriptions_key_idx ON webhook_subscriptions (key_id, created_at)
    WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY CHECK (id ~ '^msg_[0-9a-f]{32}$'),
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    subscription_id  uuid NOT NULL REFERENCES webhook_subscriptions (id),
    event            text NOT NULL
                     CHECK (event IN ('image.ready', 'image.failed', 'image.deleted')),
    image_id         uuid NOT NULL,
    body             text NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    horizon_from     timestamptz NOT NULL DEFAULT now(), -- created_at, or the last resend
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_attempt_at  timestamptz,
    last_status      integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    last_duration_ms integer NOT NULL DEFAULT 0
);
-- What ClaimDeliveries scans: the due pending rows.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, seq)
    WHERE state = 'pending';
-- Order within (subscription, image): is an earlier one still pending?
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (subscription_id, image_id, seq)
    WHERE state = 'pending';
-- Retention: finished deliveries older than 30 days are removed, a bounded
-- batch at a time, by the dispatchers' idle claims (ClaimDeliveries).
CREATE INDEX webhook_deliveries_done_idx ON webhook_deliveries (created_at)
    WHERE state <> 'pending';
-- The delivery log, newest first.
CREATE INDEX webhook_deliveries_log_idx
    ON webhook_deliveries (subscription_id, created_at DESC, id DESC);
