/* ip_config.h — configuration from the environment, one table per service.
 *
 * A service declares every variable it reads in one table of ip_cfg_var:
 * name, type, default, bounds, secret or not, and where the value goes in its
 * config struct. ip_config_load() reads them all once at start (and nothing
 * else in the project calls getenv), checks each, and reports every problem
 * together; the service refuses to start on any. ip_config_log() logs the
 * loaded values with secrets masked. `<binary> --config-vars` prints the table
 * (ip_config_print_vars), which the compose checks compare with .env.example.
 */
#ifndef IP_CONFIG_H
#define IP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ip_status.h"

typedef enum ip_cfg_type {
    IP_CFG_STRING = 1, /* char * in the struct, owned (free with ip_config_free) */
    IP_CFG_INT,        /* int64_t in the struct, within [min, max] */
    IP_CFG_BOOL,       /* bool in the struct: true/false/1/0/yes/no/on/off */
} ip_cfg_type;

typedef struct ip_cfg_var {
    const char *name; /* "IP_PG_DSN" */
    ip_cfg_type type;
    const char *def;  /* default, as text; NULL = required */
    int64_t min, max; /* bounds for IP_CFG_INT */
    bool secret;      /* masked in logs */
    size_t offset;    /* offsetof(struct service_config, field) */
    const char *help; /* one line for --help and .env.example */
} ip_cfg_var;

/* Loads every variable of `table` (n entries) into `cfg`. On failure returns
 * IP_INVALID_ARGUMENT and, if `errors` is not NULL, an owned string listing
 * every problem, one per line (free() it). Strings already stored are freed
 * by ip_config_free() either way. */
ip_status ip_config_load(const ip_cfg_var *table, size_t n, void *cfg, char **errors);

/* A service's start: loads `table` (ip_config_load), starts logging as
 * `service` at the level of the table's IP_LOG_LEVEL entry (info when the
 * table has none) and logs the loaded values (ip_config_log). On any problem
 * logs "config.invalid" with every problem found and returns false. The
 * caller frees `cfg` with ip_config_free either way. */
bool ip_config_start(const ip_cfg_var *table, size_t n, void *cfg, const char *service);

/* Logs event "config.loaded" with every value, secrets shown as "***". */
void ip_config_log(const ip_cfg_var *table, size_t n, const void *cfg);

/* Frees the strings ip_config_load stored in `cfg`. */
void ip_config_free(const ip_cfg_var *table, size_t n, void *cfg);

/* Prints "NAME=default  # help" for each variable (secrets: default kept, it is a
 * local default). Used by `--config-vars`. */
void ip_config_print_vars(FILE *out, const ip_cfg_var *table, size_t n);

#endif
