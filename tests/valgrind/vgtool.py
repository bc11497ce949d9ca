"""Helpers for tests/valgrind/run.sh, standard library only.

  vgtool.py png PATH W H [bad]  a small RGB gradient PNG (zlib, no image library);
                                "bad": its pixel data is damaged (the header still reads)
  vgtool.py job ID OUT          a ProcessJob (proto/job.proto) in protobuf wire format
  vgtool.py check XML REPO      reads valgrind's --xml output: every error whose stack
                                has a frame in the project's own code (common/, gateway/,
                                metadata-svc/, storage-svc/, processor/, proto/ or code
                                generated from proto/) fails (exit 1); errors entirely
                                inside libraries are listed as such and do not fail
                                (they belong in libs.supp, with the reason)
"""
import os
import struct
import sys
import time
import xml.etree.ElementTree as ET
import zlib

OWN_DIRS = ("common", "gateway", "metadata-svc", "storage-svc", "processor", "proto")


def png(path, w, h, bad=False):
    raw = b"".join(b"\0" + b"".join(bytes((x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), 90))
                                     for x in range(w))
                   for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    if bad:
        data = bytearray(data)
        idat = data.find(b"IDAT")
        for i in range(idat + 8, min(idat + 400, len(data) - 20)):
            data[i] ^= 0x5A
        data = bytes(data)
    with open(path, "wb") as f:
        f.write(data)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_str(num, s):
    b = s.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def field_int(num, v):
    return varint(num << 3) + varint(v)


def field_packed(num, values):
    b = b"".join(varint(v) for v in values)
    return varint(num << 3 | 2) + varint(len(b)) + b


# enum VariantKind (proto/image.proto): THUMBNAIL, RESIZED, WATERMARKED.
ALL_VARIANT_KINDS = (1, 2, 3)


def job(image_id, out):
    msg = (field_str(1, image_id) + field_str(2, "o/" + image_id) + field_str(3, "image/png") +
           field_int(5, 1) + field_int(6, int(time.time() * 1e6)) +
           field_packed(8, ALL_VARIANT_KINDS))
    with open(out, "wb") as f:
        f.write(msg)


def own_frame(frame, repo):
    d = frame.findtext("dir") or ""
    if not d:
        return False
    d = os.path.realpath(d)
    for sub in OWN_DIRS:
        top = os.path.join(repo, sub)
        if d == top or d.startswith(top + os.sep):
            return True
    # protobuf-c code generated from proto/ into a build tree: <build>/proto/
    return d.startswith(os.path.join(repo, "build") + os.sep) and os.path.basename(d) == "proto"


def describe(frame):
    fn = frame.findtext("fn") or frame.findtext("ip") or "?"
    where = frame.findtext("file")
    if where:
        where = "%s:%s" % (os.path.join(frame.findtext("dir") or "", where), frame.findtext("line") or "?")
    else:
        where = frame.findtext("obj") or "?"
    return "%s (%s)" % (fn, where)


def check(xml_path, repo):
    repo = os.path.realpath(repo)
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as e:
        print("valgrind: cannot read %s: %s" % (xml_path, e))
        return 1
    if not any(st.findtext("state") == "FINISHED" for st in root.iter("status")):
        print("valgrind: %s has no FINISHED status (the program did not end normally)" % xml_path)
        return 1
    ours = libs = 0
    for err in root.iter("error"):
        kind = err.findtext("kind") or "?"
        what = err.findtext("xwhat/text") or err.findtext("what") or ""
        stack = err.find("stack")
        frames = list(stack.iter("frame")) if stack is not None else []
        mine = any(own_frame(f, repo) for f in frames)
        if mine:
            ours += 1
        else:
            libs += 1
        print("%s %s: %s" % ("OWN CODE" if mine else "library ", kind, what))
        for f in frames[:16]:
            print("      %s%s" % ("* " if own_frame(f, repo) else "  ", describe(f)))
        sup = err.find("suppression/rawtext")
        if sup is not None and not mine:
            print("    suppression (libs.supp, name why it is the library's):")
            print("\n".join("      " + s for s in sup.text.strip().splitlines()))
    for pair in root.iter("pair"):
        print("suppressed %sx: %s" % (pair.findtext("count"), pair.findtext("name")))
    print("valgrind: %d error(s) with a frame in the project's code, %d only inside libraries"
          % (ours, libs))
    return 1 if ours else 0


def main(argv):
    if len(argv) in (5, 6) and argv[1] == "png":
        png(argv[2], int(argv[3]), int(argv[4]), len(argv) == 6 and argv[5] == "bad")
        return 0
    if len(argv) == 4 and argv[1] == "job":
        job(argv[2], argv[3])
        return 0
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
