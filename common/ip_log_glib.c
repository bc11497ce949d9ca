/* ip_log_glib.c — GLib (and so libvips) log messages into ip_log.
 *
 * Built as its own small library, ip_log_glib, so that only programs that
 * already use GLib link it. ip_log_route_glib() installs a structured-log
 * writer: every GLib message becomes one ip_log line with event "glib.log",
 * the log domain and the message. GLib's own levels map onto ours (ERROR and
 * CRITICAL -> error, WARNING -> warn, MESSAGE -> info, INFO and DEBUG -> debug).
 * INFO is debug because GLib itself hides it unless asked (G_MESSAGES_DEBUG)
 * and libvips uses g_info for every step of every operation: as info it
 * would write several lines per processed image.
 */
#include <glib.h>
#include <string.h>

#include "ip_log.h"

static GLogWriterOutput glib_writer(GLogLevelFlags flags, const GLogField *fields, gsize n,
                                    gpointer user)
{
    (void)user;
    const char *domain = NULL, *message = NULL;
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
            domain = fields[i].value;
        else if (strcmp(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
            message = fields[i].value;
    }
    ip_log_level lv = IP_LOG_DEBUG;
    if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        lv = IP_LOG_ERROR;
    else if (flags & G_LOG_LEVEL_WARNING)
        lv = IP_LOG_WARN;
    else if (flags & G_LOG_LEVEL_MESSAGE)
        lv = IP_LOG_INFO;
    ip_log(lv, "glib.log", IP_LS("domain", domain), IP_LS("msg", message));
    return G_LOG_WRITER_HANDLED;
}

void ip_log_route_glib(void)
{
    /* GLib aborts when a writer is set twice; make repeated calls harmless. */
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        g_log_set_writer_func(glib_writer, NULL, NULL);
        g_once_init_leave(&once, 1);
    }
}
