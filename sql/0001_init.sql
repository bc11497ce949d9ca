-- 0001_init: images, their variants, the listing index and the migrations record.
--
-- metadata-svc applies every sql/NNNN_*.sql it does not find in
-- schema_migrations, in name order, in one transaction under an advisory lock
-- (the runner creates schema_migrations itself first, so this statement is a
-- no-op there; it stays here so the file documents the whole schema).
-- Times are timestamptz (microsecond precision, the unit of the RPC cursor).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE images (
    id           uuid PRIMARY KEY,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    filename     text NOT NULL DEFAULT '',
    content_type text NOT NULL DEFAULT '',
    size_bytes   bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    width        integer NOT NULL DEFAULT 0 CHECK (width >= 0),
    height       integer NOT NULL DEFAULT 0 CHECK (height >= 0),
    sha256       text NOT NULL DEFAULT '',
    original_key text NOT NULL DEFAULT '',
    ops          text[] NOT NULL
                 CHECK (cardinality(ops) >= 1
                        AND ops <@ ARRAY['thumbnail', 'resized', 'watermarked']::text[]),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error        text NOT NULL DEFAULT '',
    enqueued_at  timestamptz
);

-- Keyset listing, newest first: WHERE (created_at, id) < (cursor) ORDER BY
-- created_at DESC, id DESC reads this index from the cursor on, at any depth.
CREATE INDEX images_created_id_idx ON images (created_at DESC, id DESC);

-- The re-enqueue sweep (ListStale) looks only at rows stuck before the queue.
CREATE INDEX images_stale_idx ON images (created_at)
    WHERE status = 'pending' AND enqueued_at IS NULL;

CREATE TABLE variants (
    image_id   uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name IN ('thumbnail', 'resized', 'watermarked')),
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
    object_key text NOT NULL DEFAULT '',
    width      integer NOT NULL DEFAULT 0 CHECK (width >= 0),
    height     integer NOT NULL DEFAULT 0 CHECK (height >= 0),
    size_bytes bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    format     text NOT NULL DEFAULT '',
    error      text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (image_id, name)
);
