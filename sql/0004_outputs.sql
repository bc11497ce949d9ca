-- 0004_outputs: presets, the files of every format, placeholders, staleness.
--
-- presets holds the definition of each variant (one row per name): the box
-- and fit, the formats stored beside the primary JPEG/PNG with their
-- qualities, and the watermark (wm_position NULL = no watermark; then the
-- other wm_* columns are ignored). `version` goes up by one whenever SetPreset
-- changes the definition; the seeded rows are version 1 and equal
-- common/ip_presets.c's ip_preset_default (a metadata-svc test checks that).
--
-- A variant keeps its primary file where it always did (object_key, format,
-- size_bytes) and the files beside it (WebP, AVIF) in three parallel arrays
-- alt_formats / alt_keys / alt_sizes, in the order the processor gave them:
-- a row from before this migration has empty arrays and reads as its primary
-- file alone. preset_version is the version of its preset that made it; 0 =
-- made before presets existed, which counts as version 1.
--
-- A ready variant is stale when its preset moved past the version that made
-- it: presets.version > 1 AND preset_version < presets.version (0 counting as
-- 1 gives the same answer). variants_ready_version_idx serves the questions
-- about staleness without touching the variants that are current: the count
-- (GetPresets) reads the ranges (name, preset_version < current) and
-- ListRegenerate's stale pages read each range (name, one old version) in
-- image_id order from the cursor on, so a page costs its rows times the
-- number of older versions, whatever the size of the table.
--
-- images.thumbhash (ThumbHash, standard base64) and images.dominant_color
-- ("#rrggbb") are the placeholder the processor makes; '' until made.

CREATE TABLE presets (
    name         text PRIMARY KEY CHECK (name IN ('thumbnail', 'resized', 'watermarked')),
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    width        integer NOT NULL CHECK (width BETWEEN 1 AND 8192),
    height       integer NOT NULL CHECK (height BETWEEN 1 AND 8192),
    fit          text NOT NULL CHECK (fit IN ('cover', 'inside')),
    jpeg_quality integer NOT NULL CHECK (jpeg_quality BETWEEN 1 AND 100),
    webp         boolean NOT NULL,
    webp_quality integer NOT NULL CHECK (webp_quality BETWEEN 1 AND 100),
    avif         boolean NOT NULL,
    avif_quality integer NOT NULL CHECK (avif_quality BETWEEN 1 AND 100),
    wm_text      text NOT NULL DEFAULT '' CHECK (octet_length(wm_text) <= 200),
    wm_logo_key  text NOT NULL DEFAULT ''
                 CHECK (wm_logo_key = '' OR wm_logo_key ~ '^p/logo/[0-9a-f]{64}\.png$'),
    wm_position  text CHECK (wm_position IN ('bottom-right', 'bottom-left', 'top-right',
                                             'top-left', 'center')),
    wm_margin    double precision NOT NULL DEFAULT 0 CHECK (wm_margin BETWEEN 0 AND 0.25),
    wm_scale     double precision NOT NULL DEFAULT 0.3 CHECK (wm_scale BETWEEN 0.01 AND 1),
    wm_opacity   double precision NOT NULL DEFAULT 1 CHECK (wm_opacity BETWEEN 0 AND 1),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

INSERT INTO presets (name, width, height, fit, jpeg_quality, webp, webp_quality, avif,
                     avif_quality, wm_text, wm_position, wm_margin, wm_scale, wm_opacity)
VALUES ('thumbnail', 320, 320, 'cover', 85, true, 80, false, 55, '', NULL, 0, 0.3, 1),
       ('resized', 1280, 1280, 'inside', 85, true, 80, false, 55, '', NULL, 0, 0.3, 1),
       ('watermarked', 1280, 1280, 'inside', 85, true, 80, false, 55, 'ImageProcessor',
        'bottom-right', 0.02, 0.30, 0.55);

ALTER TABLE variants
    ADD COLUMN alt_formats    text[] NOT NULL DEFAULT '{}'
        CHECK (alt_formats <@ ARRAY['webp', 'avif']::text[]),
    ADD COLUMN alt_keys       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN alt_sizes      bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN preset_version integer NOT NULL DEFAULT 0 CHECK (preset_version >= 0),
    ADD CONSTRAINT variants_alt_files_check
        CHECK (cardinality(alt_formats) = cardinality(alt_keys)
               AND cardinality(alt_formats) = cardinality(alt_sizes));

CREATE INDEX variants_ready_version_idx ON variants (name, preset_version, image_id)
    WHERE status = 'ready';

ALTER TABLE images
    ADD COLUMN thumbhash      text NOT NULL DEFAULT ''
        CHECK (length(thumbhash) <= 64 AND thumbhash ~ '^[A-Za-z0-9+/]*={0,2}$'),
    ADD COLUMN dominant_color text NOT NULL DEFAULT ''
        CHECK (dominant_color = '' OR dominant_color ~ '^#[0-9a-f]{6}$');

-- A regeneration records the files it replaced as a purge of its image, merged
-- into the image's pending purge when there is one. purges.gen counts such
-- merges and ClaimPurges notes the count it handed out (claimed_gen): a
-- FinishPurge that confirms an older count than the row's makes the purge due
-- again instead of deleting it, so keys merged during a claim are not lost.
ALTER TABLE purges
    ADD COLUMN gen         integer NOT NULL DEFAULT 0,
    ADD COLUMN claimed_gen integer NOT NULL DEFAULT 0;
