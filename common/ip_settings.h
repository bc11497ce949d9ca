/* ip_settings.h — the settings that several parts read, defined once.
 *
 * A service's configuration table (ip_config.h) lists every IP_* variable it
 * reads. Where a variable is read by more than one part (the addresses of the
 * internal services, RPC limits, Kafka, the bucket, the upload and pixel
 * limits, the log level) its name, type, default, bounds and help live here, and each table
 * takes the entry with one macro, giving only where the value goes in its own
 * struct:
 *
 *     static const ip_cfg_var table[] = {
 *         IP_SETTING_RPC_MAX_MSG_BYTES(offsetof(my_config, rpc_max_msg)),
 *         ...
 *     };
 *
 * So the ranges cannot drift apart; `--config-vars` still prints each
 * service's whole table, and a test (tests/config) checks that every shared
 * variable is printed the same by every binary that reads it.
 */
#ifndef IP_SETTINGS_H
#define IP_SETTINGS_H

#include <stddef.h>

#include "ip_admit.h"
#include "ip_config.h"

#define IP_SETTING_(name, type, def, lo, hi, off, help)                                            \
    {                                                                                              \
        name, type, def, lo, hi, false, off, help                                                  \
    }

/* ----------------------------------------------------- internal addresses */
#define IP_SETTING_METADATA_RPC_URL(off)                                                           \
    IP_SETTING_("IP_METADATA_RPC_URL", IP_CFG_STRING, "tcp://127.0.0.1:7101", 0, 0, off,           \
                "metadata-svc RPC address(es): where it listens; callers may list several, "       \
                "comma-separated")
#define IP_SETTING_METADATA_EVENTS_URL(off)                                                        \
    IP_SETTING_("IP_METADATA_EVENTS_URL", IP_CFG_STRING, "tcp://127.0.0.1:7102", 0, 0, off,        \
                "metadata-svc status events (nng pub) address")
#define IP_SETTING_STORAGE_RPC_URL(off)                                                            \
    IP_SETTING_("IP_STORAGE_RPC_URL", IP_CFG_STRING, "tcp://127.0.0.1:7201", 0, 0, off,            \
                "storage-svc RPC address(es): where it listens; callers may list several, "        \
                "comma-separated")

/* ------------------------------------------------------------------ RPC */
#define IP_SETTING_RPC_TIMEOUT_MS(off)                                                             \
    IP_SETTING_("IP_RPC_TIMEOUT_MS", IP_CFG_INT, "5000", 100, 600000, off,                         \
                "deadline of one RPC call, milliseconds")
#define IP_SETTING_RPC_MAX_MSG_BYTES(off)                                                          \
    IP_SETTING_("IP_RPC_MAX_MSG_BYTES", IP_CFG_INT, "67108864", 1048576, 1073741824, off,          \
                "largest RPC message, both ways (must exceed the upload limit)")
#define IP_SETTING_RPC_WORKERS(off)                                                                \
    IP_SETTING_("IP_RPC_WORKERS", IP_CFG_INT, "32", 1, 1024, off, "RPC requests served at once")

/* ---------------------------------------------------------------- Kafka */
#define IP_SETTING_KAFKA_BROKERS(off)                                                              \
    IP_SETTING_("IP_KAFKA_BROKERS", IP_CFG_STRING, "127.0.0.1:19092", 0, 0, off,                   \
                "Kafka bootstrap servers")
#define IP_SETTING_KAFKA_TOPIC(off)                                                                \
    IP_SETTING_("IP_KAFKA_TOPIC", IP_CFG_STRING, "image-jobs", 0, 0, off,                          \
                "topic of processing jobs (ProcessJob)")

#define IP_SETTING_KAFKA_REGEN_TOPIC(off)                                                          \
    IP_SETTING_("IP_KAFKA_REGEN_TOPIC", IP_CFG_STRING, "image-jobs.regen", 0, 0, off,              \
                "low-priority topic of regenerations (imgctl regenerate): processors read it "     \
                "only while the jobs topic has nothing waiting")

/* ------------------------------------------------------------ storage */
/* storage-svc reads it to reach the bucket; imgctl to print its policy
 * (`imgctl bucket-policy`). */
#define IP_SETTING_S3_BUCKET(off)                                                                  \
    IP_SETTING_("IP_S3_BUCKET", IP_CFG_STRING, "images", 0, 0, off, "the one bucket")

#define IP_SETTING_KAFKA_DLQ_TOPIC(off)                                                            \
    IP_SETTING_("IP_KAFKA_DLQ_TOPIC", IP_CFG_STRING, "image-jobs.dlq", 0, 0, off,                  \
                "dead-letter topic: poison jobs only (imgctl dlq lists and replays them)")

/* --------------------------------------------------------------- limits */
#define IP_SETTING_UPLOAD_MAX_BYTES(off)                                                           \
    IP_SETTING_("IP_UPLOAD_MAX_BYTES", IP_CFG_INT, "52428800", 1024, 1073741824, off,              \
                "largest accepted upload and stored original (413 above)")
#define IP_SETTING_PIXEL_LIMIT(off)                                                                \
    IP_SETTING_("IP_PIXEL_LIMIT", IP_CFG_INT, "100000000", 1, 4000000000LL, off,                   \
                "largest accepted width*height, checked from the header (422 above)")

/* ------------------------------------------ admission (common/ip_admit.h) */
#define IP_SETTING_ADMIT_METADATA_BYTES(off)                                                       \
    IP_SETTING_("IP_ADMIT_METADATA_BYTES", IP_CFG_INT, "4194304", 65536, 1073741824, off,          \
                "most metadata an image may carry (PNG text and ICC inflated, JPEG APPn/COM, "     \
                "WebP ICCP/EXIF/XMP), bytes (422 above)")
#define IP_SETTING_ADMIT_MAX_CHUNKS(off)                                                           \
    IP_SETTING_("IP_ADMIT_MAX_CHUNKS", IP_CFG_INT, "1000", 16, 1000000, off,                       \
                "most ancillary chunks / markers / boxes in one image (422 above)")
#define IP_SETTING_ADMIT_MAX_SCANS(off)                                                            \
    IP_SETTING_("IP_ADMIT_MAX_SCANS", IP_CFG_INT, "100", 1, 100000, off,                           \
                "most scans in a progressive JPEG (422 above)")
#define IP_SETTING_ADMIT_MAX_FRAMES(off)                                                           \
    IP_SETTING_("IP_ADMIT_MAX_FRAMES", IP_CFG_INT, "1000", 1, 1000000, off,                        \
                "most frames or pages (GIF, WebP, TIFF, HEIF items) in one image (422 above)")
/* The four as entries of a table whose struct holds an ip_admit_limits at `off`. */
#define IP_SETTINGS_ADMIT(off)                                                                     \
    IP_SETTING_ADMIT_METADATA_BYTES((off) + offsetof(ip_admit_limits, metadata_bytes)),            \
        IP_SETTING_ADMIT_MAX_CHUNKS((off) + offsetof(ip_admit_limits, chunks)),                    \
        IP_SETTING_ADMIT_MAX_SCANS((off) + offsetof(ip_admit_limits, scans)),                      \
        IP_SETTING_ADMIT_MAX_FRAMES((off) + offsetof(ip_admit_limits, frames))

/* ------------------------------------------------------------------ logs */
#define IP_SETTING_LOG_LEVEL(off)                                                                  \
    IP_SETTING_("IP_LOG_LEVEL", IP_CFG_STRING, "info", 0, 0, off, "debug | info | warn | error")

#endif
