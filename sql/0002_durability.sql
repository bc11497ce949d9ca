-- 0002_durability: leases and runs of processing, claims of the sweep, purges.
--
-- images.runs counts the job deliveries a processor started (MarkProcessing
-- with new_delivery); past the processor's attempt limit the job is poison.
-- images.lease_until is the processor's hold on a processing image, renewed by
-- MarkProcessing and PutVariant; once it has passed, the sweep (ListStale)
-- puts the image back on the queue. images.swept_until is a sweep's claim:
-- until then no other sweep returns the row, so any number of gateways may
-- sweep and each row goes to one of them at a time.
--
-- purges holds the objects of deleted images until storage confirmed their
-- removal: DeleteImage inserts the record in the transaction that deletes the
-- row; ClaimPurges hands it out (next_at moves on by the claim, attempts
-- counts the claims), FinishPurge deletes it or records the attempt's error.
-- It has no foreign key: its image row is gone by design.

ALTER TABLE images
    ADD COLUMN runs        integer NOT NULL DEFAULT 0 CHECK (runs >= 0),
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN swept_until timestamptz;

-- Images already processing when this runs get the lease a processor would
-- have taken, counted from their last change.
UPDATE images SET lease_until = updated_at + interval '60 seconds'
    WHERE status = 'processing';

-- The sweep's selections beside images_stale_idx (pending, never enqueued):
-- processing images by the end of their lease, and pending images whose job
-- was enqueued, by when.
CREATE INDEX images_lease_idx ON images (lease_until)
    WHERE status = 'processing';
CREATE INDEX images_enqueued_idx ON images (enqueued_at)
    WHERE status = 'pending' AND enqueued_at IS NOT NULL;

CREATE TABLE purges (
    image_id    uuid PRIMARY KEY,
    object_keys text[] NOT NULL DEFAULT '{}',
    prefix      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    next_at     timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text NOT NULL DEFAULT '',
    -- ReserveUpload's: the original of an upload that has no row yet; the
    -- row's CreateImage deletes it (while no purger has claimed it).
    reservation boolean NOT NULL DEFAULT false
);

-- ClaimPurges: the due ones (next_at <= now()).
CREATE INDEX purges_next_idx ON purges (next_at);
