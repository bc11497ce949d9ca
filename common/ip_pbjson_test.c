/* ip_pbjson_test.c — every message of the contracts round-trips through the
 * wire and through JSON; bad JSON is refused with a useful message. */
#include "events.pb-c.h"
#include "image.pb-c.h"
#include "ip_pbjson.h"
#include "ip_testing.h"
#include "job.pb-c.h"
#include "metadata.pb-c.h"
#include "rpc.pb-c.h"
#include "storage.pb-c.h"

/* Fills every field of a fresh message of type d with a non-default value. */
static ProtobufCMessage *fill(const ProtobufCMessageDescriptor *d, int depth);

static void fill_value(const ProtobufCFieldDescriptor *f, void *dst, int depth, int k)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t v = -12345 - k;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t v = 4000000000u + (uint32_t)k;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        int64_t v = 1795911760123456LL + k;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        float v = 1.5f;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v = 2.25;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean v = 1;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        int32_t v = ed->values[ed->n_values - 1].value;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        char buf[128];
        snprintf(buf, sizeof buf, "%s-%d \"ünï\"\n\\", f->name, k);
        char *s = strdup(buf);
        memcpy(dst, &s, sizeof s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b = {.len = 5, .data = malloc(5)};
        memcpy(b.data, "\x00\xff\x10\x80z", 5);
        memcpy(dst, &b, sizeof b);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *m = depth < 3 ? fill(f->descriptor, depth + 1) : NULL;
        memcpy(dst, &m, sizeof m);
        break;
    }
    }
}

static size_t esize(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

static ProtobufCMessage *fill(const ProtobufCMessageDescriptor *d, int depth)
{
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    protobuf_c_message_init(d, m);
    char *base = (char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = 2, es = esize(f->type);
            char *arr = calloc(n, es);
            for (size_t k = 0; k < n; k++)
                fill_value(f, arr + k * es, depth, (int)k);
            memcpy(base + f->offset, &arr, sizeof arr);
            memcpy(base + f->quantifier_offset, &n, sizeof n);
        } else {
            fill_value(f, base + f->offset, depth, 0);
        }
    }
    return m;
}

static uint8_t *packed(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*n ? *n : 1);
    protobuf_c_message_pack(m, b);
    return b;
}

static void roundtrip(const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = fill(d, 0);
    size_t n1, n2, n3;
    uint8_t *a = packed(m, &n1);
    /* Wire. */
    ProtobufCMessage *w = protobuf_c_message_unpack(d, NULL, n1, a);
    CHECK(w != NULL);
    uint8_t *b = packed(w, &n2);
    CHECK(n1 == n2 && memcmp(a, b, n1) == 0);
    /* JSON, compact and pretty. */
    for (int pretty = 0; pretty < 2; pretty++) {
        char *json = ip_pbjson_format(m, pretty);
        CHECK(json != NULL);
        ProtobufCMessage *j = NULL;
        char err[256];
        ip_status st = ip_pbjson_parse(d, json, strlen(json), &j, err, sizeof err);
        if (st != IP_OK)
            fprintf(stderr, "%s: %s\n%s\n", d->name, err, json);
        CHECK_EQ_INT(st, IP_OK);
        uint8_t *c = packed(j, &n3);
        if (!(n1 == n3 && memcmp(a, c, n1) == 0))
            fprintf(stderr, "%s differs after JSON:\n%s\n", d->name, json);
        CHECK(n1 == n3 && memcmp(a, c, n1) == 0);
        free(c);
        protobuf_c_message_free_unpacked(j, NULL);
        free(json);
    }
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(w, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_every_message_roundtrips(void)
{
    const ProtobufCServiceDescriptor *svcs[] = {&imageproc__metadata__descriptor,
                                                &imageproc__storage__descriptor};
    int count = 0;
    for (size_t s = 0; s < 2; s++) {
        for (unsigned i = 0; i < svcs[s]->n_methods; i++) {
            roundtrip(svcs[s]->methods[i].input);
            roundtrip(svcs[s]->methods[i].output);
            count += 2;
        }
    }
    const ProtobufCMessageDescriptor *others[] = {
        &imageproc__rpc_request__descriptor, &imageproc__rpc_reply__descriptor,
        &imageproc__process_job__descriptor, &imageproc__status_event__descriptor,
        &imageproc__image__descriptor,       &imageproc__variant__descriptor,
        &imageproc__object_info__descriptor,
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++, count++)
        roundtrip(others[i]);
    fprintf(stderr, "%d message types round-tripped\n", count);
}

static void test_parse_values(void)
{
    const char *json =
        "{\"image\":{\"id\":\"abc\",\"createdAtUs\":\"1795911760123456\","
        "\"width\":640,\"requested\":[\"VARIANT_THUMBNAIL\",2],\"status\":3,"
        "\"variants\":[{\"kind\":\"VARIANT_THUMBNAIL\",\"status\":\"VARIANT_READY\"}]}}";
    ProtobufCMessage *m = NULL;
    char err[256];
    CHECK_EQ_INT(ip_pbjson_parse(&imageproc__create_image_request__descriptor, json, strlen(json),
                                 &m, err, sizeof err),
                 IP_OK);
    Imageproc__CreateImageRequest *r = (void *)m;
    CHECK_EQ_STR(r->image->id, "abc");
    CHECK_EQ_INT(r->image->created_at_us, 1795911760123456LL);
    CHECK_EQ_INT(r->image->width, 640);
    CHECK_EQ_INT(r->image->n_requested, 2);
    EXPECT_EQ_INT(r->image->requested[0], IMAGEPROC__VARIANT_KIND__VARIANT_THUMBNAIL);
    EXPECT_EQ_INT(r->image->requested[1], IMAGEPROC__VARIANT_KIND__VARIANT_RESIZED);
    CHECK_EQ_INT(r->image->status, IMAGEPROC__IMAGE_STATUS__IMAGE_READY);
    CHECK_EQ_INT(r->image->n_variants, 1);
    CHECK_EQ_INT(r->image->variants[0]->status, IMAGEPROC__VARIANT_STATUS__VARIANT_READY);
    EXPECT_EQ_INT(r->image->variants[0]->kind, IMAGEPROC__VARIANT_KIND__VARIANT_THUMBNAIL);
    char *out = ip_pbjson_format(m, 0);
    CHECK(strstr(out, "\"created_at_us\":1795911760123456") != NULL);
    CHECK(strstr(out, "\"status\":\"IMAGE_READY\"") != NULL);
    EXPECT(strstr(out, "\"requested\":[\"VARIANT_THUMBNAIL\",\"VARIANT_RESIZED\"]") != NULL);
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);

    json = "{\"key\":\"o/1\",\"data\":\"AP8QgHo=\"}";
    CHECK_EQ_INT(ip_pbjson_parse(&imageproc__put_object_request__descriptor, json, strlen(json), &m,
                                 err, sizeof err),
                 IP_OK);
    Imageproc__PutObjectRequest *p = (void *)m;
    CHECK(p->data.len == 5 && memcmp(p->data.data, "\x00\xff\x10\x80z", 5) == 0);
    protobuf_c_message_free_unpacked(m, NULL);

    /* An empty object is every default; a null message stays absent. */
    CHECK_EQ_INT(ip_pbjson_parse(&imageproc__get_image_reply__descriptor, "{\"image\":null}", 14,
                                 &m, err, sizeof err),
                 IP_OK);
    CHECK(((Imageproc__GetImageReply *)m)->image == NULL);
    out = ip_pbjson_format(m, 0);
    CHECK_EQ_STR(out, "{\"image\":null}");
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_parse_negatives(void)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"", "invalid JSON"},
        {"{", "invalid JSON"},
        {"[]", "expected a JSON object"},
        {"{\"nope\":1}", "unknown field \"nope\""},
        {"{\"image\":{\"width\":\"wide\"}}", "image.width: expected an integer"},
        {"{\"image\":{\"width\":4294967296}}", "image.width: out of range"},
        {"{\"image\":{\"width\":1.5}}", "image.width: expected an integer"},
        {"{\"image\":{\"id\":7}}", "image.id: expected a string"},
        {"{\"image\":{\"requested\":\"VARIANT_THUMBNAIL\"}}", "image.requested: expected an array"},
        {"{\"image\":{\"requested\":[1,\"thumbnail\"]}}", "image.requested[1]: no value"},
        {"{\"image\":{\"requested\":[true]}}", "image.requested[0]: expected an enum"},
        {"{\"image\":{\"filename\":[\"a\"]}}", "image.filename: expected a string"},
        {"{\"image\":{\"status\":\"SHINY\"}}", "no value \"SHINY\""},
        {"{\"image\":{\"status\":true}}", "expected an enum"},
        {"{\"image\":{\"variants\":[{\"width\":[]}]}}", "image.variants[0].width"},
        {"{\"image\":{\"id\":\"a\\u0000b\"}}", "not allowed"},
        {"{\"image\":{\"id\":\"a\",\"id\":\"b\"}}", "invalid JSON"},
        {"{\"image\":5}", "image: expected an object"},
        {"{\"image\":{\"created_at_us\":\"12x\"}}", "expected an integer"},
        {"{\"image\":{\"variants\":[null]}}", "image.variants[0]: null is not allowed"},
        {"{\"image\":{\"requested\":[null]}}", "image.requested[0]: null is not allowed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ProtobufCMessage *m = (ProtobufCMessage *)1;
        char err[256];
        ip_status st = ip_pbjson_parse(&imageproc__create_image_request__descriptor, bad[i].json,
                                       strlen(bad[i].json), &m, err, sizeof err);
        if (st != IP_INVALID_ARGUMENT || m != NULL || strstr(err, bad[i].want) == NULL) {
            fprintf(stderr, "json %s: %s \"%s\" (want \"%s\")\n", bad[i].json, ip_strerror(st), err,
                    bad[i].want);
            CHECK(0);
        }
    }
    ProtobufCMessage *m;
    char err[256];
    /* A repeated string holds strings only. */
    const char *keys = "{\"keys\":[\"a\",3]}";
    EXPECT_EQ_INT(ip_pbjson_parse(&imageproc__delete_objects_request__descriptor, keys,
                                  strlen(keys), &m, err, sizeof err),
                  IP_INVALID_ARGUMENT);
    EXPECT(strstr(err, "keys[1]: expected a string") != NULL);
    const char *b64 = "{\"data\":\"not base64!\"}";
    CHECK_EQ_INT(ip_pbjson_parse(&imageproc__put_object_request__descriptor, b64, strlen(b64), &m,
                                 err, sizeof err),
                 IP_INVALID_ARGUMENT);
    /* Deep nesting is refused, not a stack overflow. */
    char deep[8192] = "";
    for (int i = 0; i < 1000; i++)
        strcat(deep, "[");
    CHECK_EQ_INT(ip_pbjson_parse(&imageproc__put_object_request__descriptor, deep, strlen(deep), &m,
                                 err, sizeof err),
                 IP_INVALID_ARGUMENT);
}

static void test_base64(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = ip_base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
        CHECK_EQ_STR(e, enc[i]);
        uint8_t *d;
        size_t n;
        CHECK_EQ_INT(ip_base64_decode(e, strlen(e), &d, &n), IP_OK);
        CHECK(n == strlen(plain[i]) && memcmp(d, plain[i], n) == 0);
        free(d);
        free(e);
    }
    uint8_t *d;
    size_t n;
    CHECK_EQ_INT(ip_base64_decode("Z", 1, &d, &n), IP_INVALID_ARGUMENT);
    CHECK_EQ_INT(ip_base64_decode("Zm9v!", 5, &d, &n), IP_INVALID_ARGUMENT);
}

static void test_invalid_utf8_output(void)
{
    Imageproc__GetImageRequest r = IMAGEPROC__GET_IMAGE_REQUEST__INIT;
    r.id = "bad\xff\xfe";
    char *out = ip_pbjson_format(&r.base, 0);
    CHECK(out != NULL);
    CHECK(strstr(out, "bad\xef\xbf\xbd") != NULL);
    free(out);
}

static const ip_test_case tests[] = {
    IP_TEST(every_message_roundtrips), IP_TEST(parse_values),
    IP_TEST(parse_negatives),          IP_TEST(base64),
    IP_TEST(invalid_utf8_output),
};
IP_TEST_MAIN(tests)
