/* meta_migrations.h — the schema migrations embedded in the binary.
 *
 * The build turns every sql/NNNN_name.sql into one entry of meta_migrations
 * (embed_sql.cmake), in name order, so metadata-svc needs no files at run time.
 */
#ifndef META_MIGRATIONS_H
#define META_MIGRATIONS_H

#include <stddef.h>

typedef struct meta_migration {
    const char *version; /* file name without ".sql", e.g. "0001_init" */
    const char *sql;     /* the whole file */
} meta_migration;

extern const meta_migration meta_migrations[]; /* meta_migrations_count entries, then {0, 0} */
extern const size_t meta_migrations_count;

#endif
