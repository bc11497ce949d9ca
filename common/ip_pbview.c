/* ip_pbview.c — protobuf-c unpacking with large bytes fields left in place
 * (see ip_pbview.h).
 *
 * Three walks over the top-level fields of the packed buffer, none of which
 * copies a payload: the first finds, for every sliceable field (a singular
 * bytes field outside any oneof), its last occurrence, whether any occurrence
 * reaches `min_slice`, and how many bytes its occurrences take; the second
 * copies every other field into a small buffer (the packed message minus the
 * slices: a few hundred bytes for the messages of this service) which
 * protobuf-c unpacks; the third is ip_pbview_free's, over the descriptor: a
 * bytes field pointing into the packed buffer is emptied before protobuf-c
 * frees the rest. protobuf-c never points a field into the buffer it unpacks,
 * so a pointer inside it is always one of ours.
 *
 * ip_pbview_split uses the same walk for the server's replies written around
 * a payload already in place (ip_rpc_call_reply_bytes).
 *
 * Bounds: the walk reads varints of at most 10 bytes and refuses a length
 * past the end; the per-field table has one entry per field of the
 * descriptor (compiled in), never per occurrence on the wire.
 */
#include "ip_pbview.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One top-level field on the wire: [start, end), its value at [value, value + value_len)
 * for a length-delimited one. */
typedef struct wire_field {
    uint32_t number;
    unsigned wire;
    size_t start, value, value_len, end;
} wire_field;

/* Descriptors with at most this many fields keep their plan on the stack. */
#define PLAN_ON_STACK 16

/* What the first walk learnt of one sliceable field. */
typedef struct slice_plan {
    bool seen, sliced;
    size_t value, value_len; /* the last occurrence */
    size_t span;             /* bytes of all its occurrences, tags included */
} slice_plan;

static bool get_varint(const uint8_t *d, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t b = d[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The field at *pos: 1 (and *pos past it), 0 at the end, -1 when the buffer
 * cannot be walked. */
static int next_field(const uint8_t *d, size_t len, size_t *pos, wire_field *f)
{
    if (*pos >= len)
        return 0;
    uint64_t tag, v;
    f->start = *pos;
    if (!get_varint(d, len, pos, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return -1;
    f->number = (uint32_t)(tag >> 3);
    f->wire = (unsigned)(tag & 7);
    f->value = *pos;
    f->value_len = 0;
    switch (f->wire) {
    case PROTOBUF_C_WIRE_TYPE_VARINT:
        if (!get_varint(d, len, pos, &v))
            return -1;
        break;
    case PROTOBUF_C_WIRE_TYPE_64BIT:
        if (len - *pos < 8)
            return -1;
        *pos += 8;
        break;
    case PROTOBUF_C_WIRE_TYPE_32BIT:
        if (len - *pos < 4)
            return -1;
        *pos += 4;
        break;
    case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
        if (!get_varint(d, len, pos, &v) || v > len - *pos)
            return -1;
        f->value = *pos;
        f->value_len = (size_t)v;
        *pos += (size_t)v;
        break;
    default: /* groups: left to protobuf-c */
        return -1;
    }
    f->end = *pos;
    return 1;
}

static bool sliceable(const ProtobufCFieldDescriptor *fd)
{
    return fd != NULL && fd->type == PROTOBUF_C_TYPE_BYTES &&
           (fd->label == PROTOBUF_C_LABEL_NONE || fd->label == PROTOBUF_C_LABEL_OPTIONAL) &&
           !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

/* The plan entry of the field `f` is, or NULL when it is not sliceable. */
static slice_plan *plan_of(const ProtobufCMessageDescriptor *desc, slice_plan *plan,
                           const wire_field *f)
{
    if (f->wire != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
        return NULL;
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(desc, f->number);
    return sliceable(fd) ? &plan[fd - desc->fields] : NULL;
}

/* First walk: fills plan; the bytes left to protobuf-c in *rest. False when
 * the buffer cannot be walked or nothing is sliced. */
static bool plan_slices(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                        size_t min_slice, slice_plan *plan, size_t *rest)
{
    size_t pos = 0;
    int r;
    wire_field f;
    while ((r = next_field(data, len, &pos, &f)) == 1) {
        slice_plan *p = plan_of(desc, plan, &f);
        if (p == NULL)
            continue;
        p->seen = true;
        p->value = f.value;
        p->value_len = f.value_len;
        p->span += f.end - f.start;
        if (f.value_len >= min_slice && f.value_len > 0)
            p->sliced = true;
    }
    if (r < 0)
        return false;
    size_t cut = 0;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (plan[i].sliced)
            cut += plan[i].span;
    *rest = len - cut;
    return cut > 0;
}

ProtobufCMessage *ip_pbview_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
                                   const uint8_t *data, size_t min_slice)
{
    /* Small messages (the envelopes, most inputs) plan on the stack. */
    slice_plan small[PLAN_ON_STACK];
    slice_plan *plan = small;
    if (desc->n_fields > PLAN_ON_STACK)
        plan = calloc(desc->n_fields, sizeof *plan);
    else
        memset(small, 0, sizeof small);
    if (plan == NULL)
        return NULL;
    size_t rest_len = 0;
    if (!plan_slices(desc, data, len, min_slice, plan, &rest_len)) {
        if (plan != small)
            free(plan);
        return protobuf_c_message_unpack(desc, NULL, len, data);
    }
    /* Second walk: everything but the sliced fields, for protobuf-c. */
    uint8_t *rest = malloc(rest_len ? rest_len : 1);
    if (rest == NULL) {
        if (plan != small)
            free(plan);
        return NULL;
    }
    size_t pos = 0, n = 0;
    wire_field f;
    while (next_field(data, len, &pos, &f) == 1) {
        slice_plan *p = plan_of(desc, plan, &f);
        if (p != NULL && p->sliced)
            continue;
        memcpy(rest + n, data + f.start, f.end - f.start);
        n += f.end - f.start;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, n, rest);
    free(rest);
    for (unsigned i = 0; m != NULL && i < desc->n_fields; i++) {
        if (!plan[i].sliced)
            continue;
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        ProtobufCBinaryData *bd = (ProtobufCBinaryData *)((char *)m + fd->offset);
        bd->len = plan[i].value_len;
        bd->data = plan[i].value_len > 0 ? (uint8_t *)data + plan[i].value : NULL;
        if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
            *(protobuf_c_boolean *)((char *)m + fd->quantifier_offset) = 1;
    }
    if (plan != small)
        free(plan);
    return m;
}

size_t ip_pbview_split(const uint8_t *data, size_t len, uint32_t number)
{
    size_t pos = 0;
    int r;
    wire_field f;
    while ((r = next_field(data, len, &pos, &f)) == 1)
        if (f.number > number)
            return f.start;
    return r < 0 ? SIZE_MAX : len;
}

void ip_pbview_free(ProtobufCMessage *m, const uint8_t *data, size_t len)
{
    if (m == NULL)
        return;
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    for (unsigned i = 0; data != NULL && i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        if (!sliceable(fd))
            continue;
        ProtobufCBinaryData *bd = (ProtobufCBinaryData *)((char *)m + fd->offset);
        /* Compared as addresses: bd->data may point anywhere. */
        uintptr_t p = (uintptr_t)bd->data, lo = (uintptr_t)data;
        if (bd->data != NULL && p >= lo && p - lo < len) {
            bd->data = NULL;
            bd->len = 0;
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
}
