"""The hostile corpus: files built at test time that are small but would cost
a decoder far more than their size, or are not what they claim to be, and the
status and reason the service must answer with.

cases() returns a list of Case(name, data, status, reason): what an upload of
`data` must get (415 or 422) and the problem's reason (ip_admit's codes). The
files are built with the standard library only (struct, zlib): deflated zeros
for the text bombs, repeated segments, frames and directories for the counts.
valid_cases() returns small VALID images of every accepted type (status 202,
reason None): written by libvips once and kept here in base64, plus larger
PNG, TIFF and GIF files built here, so over-strict limits show up as failures.

The limits these are built against are the defaults of the IP_ADMIT_*
settings: 4 MiB of metadata, 1000 chunks, 100 scans, 1000 frames, and the
pixel limit of 100 000 000.
"""
import base64
import struct
import zlib
from collections import namedtuple

Case = namedtuple("Case", "name data status reason")

MIB = 1 << 20


# ---------------------------------------------------------------- PNG

def png_chunk(kind, data=b""):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_ihdr(w, h, depth=8, colour=2, interlace=0):
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace))


def png(w=1, h=1, extra=b"", colour=2, interlace=0, rows=None):
    """A PNG of w x h RGB (or `colour`) pixels, all zero unless `rows` is given."""
    if rows is None:
        bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
        rows = (b"\0" + b"\0" * (w * bpp)) * h if w * h <= 4 * MIB else b"\0" * 64
    out = b"\x89PNG\r\n\x1a\n" + png_ihdr(w, h, colour=colour, interlace=interlace) + extra
    if colour == 3:
        out += png_chunk(b"PLTE", b"\0\0\0\xff\xff\xff")
    return out + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND")


def deflated_zeros(n):
    z = zlib.compressobj(9)
    block = b"\0" * MIB
    parts = [z.compress(block) for _ in range(n // MIB)]
    parts.append(z.compress(b"\0" * (n % MIB)))
    parts.append(z.flush())
    return b"".join(parts)


# ---------------------------------------------------------------- JPEG

def jpeg_segment(marker, data):
    return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data


def jpeg_head(w, h, sof=0xC0):
    return (b"\xff\xd8" + jpeg_segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
            + jpeg_segment(sof, struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00"))


JPEG_SCAN = jpeg_segment(0xDA, b"\x01\x01\0\0\x3f\0") + b"\x12\x34\xff\x00\x56"


def jpeg_scan_bomb(w, h, scans):
    """A greyscale progressive JPEG that a decoder really works through: a
    quantization table, one AC Huffman code (EOB14, a run of up to 32,767
    blocks), and `scans` AC scans that each cover every 8x8 block with a few
    end-of-band runs. Each scan is tens of bytes; each costs the decoder a pass
    over all w*h/64 blocks."""
    dqt = jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
    dht = jpeg_segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\xe0")
    sof = jpeg_segment(0xC2, struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00")
    blocks = ((w + 7) // 8) * ((h + 7) // 8)
    bits = ("0" + "1" * 14) * (blocks // 32767 + 1)
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)).replace(b"\xff", b"\xff\x00")
    scan = jpeg_segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") + data
    return b"\xff\xd8" + dqt + dht + sof + scan * scans + b"\xff\xd9"


# ---------------------------------------------------------------- GIF

GIF_FRAME = (b"\x21\xf9\x04\x04\x0a\x00\x00\x00"           # graphic control
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
             + b"\x02\x02\x44\x01\x00")                     # LZW data


def gif(frames, w=1, h=1, tail=b"\x3b"):
    head = b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return head + loop + GIF_FRAME * frames + tail


# ---------------------------------------------------------------- WebP

def riff_chunk(kind, data):
    return kind + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")


def webp_anim(frames):
    vp8x = riff_chunk(b"VP8X", b"\x12\0\0\0" + b"\x09\0\0\x09\0\0")
    anim = riff_chunk(b"ANIM", b"\0" * 6)
    body = b"WEBP" + vp8x + anim + riff_chunk(b"ANMF", b"\0" * 28) * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---------------------------------------------------------------- TIFF

def tiff_pages(pages, w=16, h=9):
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for i in range(pages):
        at = len(out)
        nxt = at + 30 if i + 1 < pages else 0
        out += struct.pack("<H", 2)
        out += struct.pack("<HHII", 256, 4, 1, w) + struct.pack("<HHII", 257, 4, 1, h)
        out += struct.pack("<I", nxt)
    return bytes(out)


def tiff_rgb(w, h):
    """An uncompressed RGB TIFF with one strip (a real, decodable file)."""
    pixels = bytes(((x * 255 // max(w - 1, 1)) for x in range(w))) * 3 * h
    pixels = pixels[: w * h * 3]
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, 0), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(pixels))]
    ifd_size = 2 + 12 * len(entries) + 4
    data_at = 8 + ifd_size
    out = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = data_at
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    return out + struct.pack("<I", 0) + pixels


# ---------------------------------------------------------------- ISO-BMFF

def box(kind, body):
    return struct.pack(">I", 8 + len(body)) + kind + body


def ftyp(major, compat):
    return box(b"ftyp", major + b"\0\0\0\0" + compat)


def heif_meta(w, h):
    hdlr = box(b"hdlr", b"\0" * 8 + b"pict" + b"\0" * 13)
    infe = box(b"infe", b"\x02\0\0\0" + b"\0\x01\0\0hvc1\0")
    iinf = box(b"iinf", b"\0\0\0\0\0\x01" + infe)
    ispe = box(b"ispe", b"\0\0\0\0" + struct.pack(">II", w, h))
    return box(b"meta", b"\0\0\0\0" + hdlr + iinf + box(b"iprp", box(b"ipco", ispe)))


# ---------------------------------------------------------------- the cases

def _hostile():
    ztxt = png_chunk(b"zTXt", b"Comment\0\0" + deflated_zeros(40 * MIB))
    yield "png_ztxt_bomb_10x40MB", png(extra=ztxt * 10), 422, "metadata_too_large"
    itxt = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\x01\0en\0\0" + deflated_zeros(64 * MIB))
    yield "png_itxt_bomb_64MB", png(extra=itxt), 422, "metadata_too_large"
    iccp = png_chunk(b"iCCP", b"sRGB\0\0" + deflated_zeros(64 * MIB))
    yield "png_iccp_bomb_64MB", png(extra=iccp), 422, "metadata_too_large"
    yield "png_palette_bomb_100000x100000", png(100000, 100000, colour=3), 422, "pixel_limit"
    yield "png_interlace_bomb_100000x100000", png(100000, 100000, interlace=1), 422, "pixel_limit"
    yield ("png_many_chunks_5000", png(extra=png_chunk(b"tEXt", b"k\0v") * 5000), 422,
           "too_many_chunks")
    yield "png_truncated", png(64, 48)[:-40], 422, "truncated"
    zip_tail = (b"PK\x03\x04\x14\0\0\0\0\0" + b"\0" * 16 + b"\x05\0\0\0\0\0\0\0a.txthello"
                + b"PK\x05\x06" + b"\0" * 18)
    yield "png_zip_polyglot", png(64, 48) + zip_tail, 422, "trailing_data"

    icc = jpeg_segment(0xE2, b"ICC_PROFILE\0\x01\x01" + b"\0" * 65519)
    tail = jpeg_head(64, 48)[2:] + JPEG_SCAN + b"\xff\xd9"
    yield "jpeg_icc_20MB", b"\xff\xd8" + icc * (20 * MIB // 65535) + tail, 422, "metadata_too_large"
    yield ("jpeg_progressive_2000_scans", jpeg_scan_bomb(8000, 8000, 2000), 422, "too_many_scans")

    yield "gif_5000_frames", gif(5000), 422, "too_many_frames"
    yield "gif_trailing_script", gif(1, tail=b"\x3b<script>alert(1)</script>"), 422, "trailing_data"
    yield "webp_5000_frames", webp_anim(5000), 422, "too_many_frames"
    yield "tiff_5000_pages", tiff_pages(5000), 422, "too_many_frames"
    loop = bytearray(tiff_pages(3))
    loop[-4:] = struct.pack("<I", 8)
    yield "tiff_ifd_loop", bytes(loop), 422, "malformed"

    isom = ftyp(b"isom", b"isommif1")
    yield "ftyp_isom_mif1_3MB", isom + b"\0" * (3 * MIB - len(isom)), 422, "bad_brand"
    heic = ftyp(b"heic", b"mif1heic")
    meta_100mb = struct.pack(">I", 100 * MIB) + b"meta" + b"\0" * 4096
    yield "heif_meta_100MB_declared", heic + meta_100mb, 422, "metadata_too_large"
    mdat_4gb = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 4 << 30) + b"\0" * 4096
    yield "heif_box_claims_4GB", heic + heif_meta(64, 48) + mdat_4gb, 422, "truncated"

    yield "text_plain", b"hello, this is not an image\n" * 10, 415, "unsupported_type"
    yield "html", b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", \
        415, "unsupported_type"
    yield "svg", (b'<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000">'
                  b'<rect width="100%" height="100%"/></svg>'), 415, "unsupported_type"


def cases():
    """The hostile files: a list of Case (status 415 or 422 and the reason)."""
    return [Case(*c) for c in _hostile()]


def valid_cases():
    """Valid images of every accepted type: each must be accepted (202)."""
    out = [Case("valid_" + name, base64.b64decode("".join(b64)), 202, None)
           for name, b64 in _EMBEDDED.items()]
    w, h = 1024, 768
    rows = b"".join(b"\0" + bytes(((x + y) & 0xFF) for x in range(w * 3)) for y in range(h))
    out.append(Case("valid_png_1024x768", png(w, h, rows=rows), 202, None))
    text = png_chunk(b"tEXt", b"Comment\0" + b"a" * 2000)
    out.append(Case("valid_png_with_text", png(64, 48, extra=text * 20), 202, None))
    out.append(Case("valid_tiff_rgb_320x240", tiff_rgb(320, 240), 202, None))
    return out


# Written once by libvips 8.14 (64x48 gradients): JPEG baseline and
# progressive, PNG interlaced and palette, WebP lossy and lossless, GIF, TIFF
# (deflate), AVIF and HEIC.
_EMBEDDED = {
    "jpeg": (
        "/9j/4QC8RXhpZgAASUkqAAgAAAAGABIBAwABAAAAAQAAABoBBQABAAAAVgAAABsBBQABAAAAXgAAACgBAwABAAAAAgAAABMC"
        "AwABAAAAAQAAAGmHBAABAAAAZgAAAAAAAAA4YwAA6AMAADhjAADoAwAABgAAkAcABAAAADAyMTABkQcABAAAAAECAwAAoAcA"
        "BAAAADAxMDABoAMAAQAAAP//AAACoAQAAQAAAEAAAAADoAQAAQAAADAAAAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUE"
        "BAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4LCxAWEBETFBUVFQwPFxgWFBgSFBUU/9sAQwEDBAQFBAUJBQUJFA0LDRQUFBQUFBQU"
        "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU/8AAEQgAMABAAwERAAIRAQMRAf/EAB8AAAEFAQEB"
        "AQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEV"
        "UtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SV"
        "lpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/EAB8BAAMBAQEB"
        "AQEBAQEAAAAAAAABAgMEBQYHCAkKC//EALURAAIBAgQEAwQHBQQEAAECdwABAgMRBAUhMQYSQVEHYXETIjKBCBRCkaGxwQkj"
        "M1LwFWJy0QoWJDThJfEXGBkaJicoKSo1Njc4OTpDREVGR0hJSlNUVVZXWFlaY2RlZmdoaWpzdHV2d3h5eoKDhIWGh4iJipKT"
        "lJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uLj5OXm5+jp6vLz9PX29/j5+v/aAAwDAQACEQMR"
        "AD8A/LOOKiMgjIsxxVvGR0xkWY4a3jI6YyLEcVbxkdMZFmOKt4yOmMizHFXRGR0xkWY4q3jI6YyLMcVbxkdMZHHRxV8NGR+b"
        "xkWI4q3jI6YyLMcVbxkdMZFmOGt4yOmMizHFW8ZHTGRZjireMjpjIsRxV0RkdMZFmOKt4yOmMjjo4a+GjI/N4yLMcVbxkdMZ"
        "FmOKt4yOmMixHFW8ZHTGRZjhreMjpjIsxxVvGR0xkWY4q3jI6YyLMcVdEZHTGRx0cVfDRkfm8ZFiOGt4yOmMizHFW8ZHTGRZ"
        "jireMjpjIsxxVvGR0xkWY4a3jI6YyLEcVbxkdMZFmOKt4yOmMjjo4q+HjI/N4yLMcVbxkdMZFmOGt4yOmMizHFW8ZHTGRYji"
        "reMjpjIsxxVvGR0xkWY4a3jI6YyLMcVbxkdMZHGxxV8NGR+bxkWY4q6IyOmMizHFW8ZHTGRZjhreMjpjIsxxVvGR0xkWY4q3"
        "jI6YyLEcVbxkdMZFmOGt4yOmMj//2Q=="
    ),
    "jpeg_progressive": (
        "/9j/4QC8RXhpZgAASUkqAAgAAAAGABIBAwABAAAAAQAAABoBBQABAAAAVgAAABsBBQABAAAAXgAAACgBAwABAAAAAgAAABMC"
        "AwABAAAAAQAAAGmHBAABAAAAZgAAAAAAAAA4YwAA6AMAADhjAADoAwAABgAAkAcABAAAADAyMTABkQcABAAAAAECAwAAoAcA"
        "BAAAADAxMDABoAMAAQAAAP//AAACoAQAAQAAAEAAAAADoAQAAQAAADAAAAAAAAAA/9sAQwADAgIDAgIDAwMDBAMDBAUIBQUE"
        "BAUKBwcGCAwKDAwLCgsLDQ4SEA0OEQ4LCxAWEBETFBUVFQwPFxgWFBgSFBUU/9sAQwEDBAQFBAUJBQUJFA0LDRQUFBQUFBQU"
        "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU/8IAEQgAMABAAwERAAIRAQMRAf/EABYAAQEBAAAA"
        "AAAAAAAAAAAAAAMFCP/EABgBAQEBAQEAAAAAAAAAAAAAAAMCBQYA/9oADAMBAAIQAxAAAAHLPvJaKipaIiqiJaqiRsLm0RVt"
        "ERVtERURFtY2Hza2iIqWioqWioqIkfC5tEVLRUVLRUVLREWPh82loqKloiKtoiKtpGw+bRFW0RFW0RFS0VF//8QAFRABAQAA"
        "AAAAAAAAAAAAAAAAAQD/2gAIAQEAAQUCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC/8QAFREBAQAAAAAA"
        "AAAAAAAAAAAAAQD/2gAIAQMBAT8BGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG/8QAFREBAQAAAAAAAAAA"
        "AAAAAAAAAQD/2gAIAQIBAT8BGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG/8QAFBABAAAAAAAAAAAAAAAA"
        "AAAAUP/aAAgBAQAGPwJD/8QAFBABAAAAAAAAAAAAAAAAAAAAUP/aAAgBAQABPyFAEAAEAQEAQEAQEAQH/9oADAMBAAIAAwAA"
        "ABAcOHHxxyqOccVjjhwceOMxxzj/xAAUEQEAAAAAAAAAAAAAAAAAAABQ/9oACAEDAQE/EEAAAAAAAAAAAAAAAAP/xAAUEQEA"
        "AAAAAAAAAAAAAAAAAABQ/9oACAECAQE/EEAAAAAAAAAAAAAAAAP/xAAUEAEAAAAAAAAAAAAAAAAAAABQ/9oACAEBAAE/EEFF"
        "VVFUVFUVFUVFUVP/2Q=="
    ),
    "png_interlaced": (
        "iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAYAAAHWTEyJAAAACXBIWXMAAAPoAAAD6AG1e1JrAAATGElEQVRogR3abXvhXBeA"
        "4YSqW40aVTWqalTVqCIvSCQh//9fPdf15Pw4R4cke6+9XgQB13/4jT/4i3+IkOP//+r1G3/wF/8QIUfgn/qvXn/wF/8QIUfg"
        "/+uf+q9ef/EPEXIEfqj/r3/qv3r9Q4Qcgd/ID/X/9U/9V68IOYI7/MIz3vCJHxxRIbj77+6/X3jGGz7xgyMqBHe/737/wjPe"
        "8IkfHFEhuPtz9+cXnvGGT/zgiArB3d+7v7/wjDd84gdHVAju/t39+4VnvOETPziiQuBtePFd736Br3T3DD757g18wN0n+H/u"
        "fhDhiBwVAp+Bf+mtenlHz/CLv8Hv9wm/xg8iHJGjQuAD9CN9Tv6lj8PLu36DN/cJ7+EHEY7IUSHw6ftdfch+pM/Sv/SReflk"
        "PuED+EGEI3JUCHx13qRvyO/qi/Ajfd7+pY/Vy6f3gwhH5KgQ+N59Or5eb9K36Hf1ZfmRvhP/0kfvFeGIHBWCBu7xgEc84QWv"
        "eMcHvvCNPRKcUeCGoHHXuLvHAx7xhBe84h0f+MI39khwRoEbgsZ/jf/u8YBHPOEFr3jHB77wjT0SnFHghqDxq/HrHg94xBNe"
        "8Ip3fOAL39gjwRkFbggavxu/7/GARzzhBa94xwe+8I09EpxR4Iag8dx4vscDHvGEF7ziHR/4wjf2SHBGgRuCxp/Gn3s84BFP"
        "eMEr3vGBL3xjjwRnFLghaLw13u7xgEc84QWveMcHvvCNPRKcUeCGoPG38fceD3jEE17wind84Avf2CPBGQVuCBqfjc97POAR"
        "T3jBK97xgS98Y48EZxS4IWj8a/y7xwMe8YQXvOIdH/jCN/ZIcEaBG4LGT+PnHg94xBNe8Ip3fOAL39gjwRkFbgjcDF6s6MY9"
        "WJiNB7C+Go9gmTSewNtuvICX1ngFz77xDh5h4wM8icYXuKHGN/hejT0iJDjijBwFKtwQuBP9ZDeUl/viAS7vR7hKn+Bie4Fr"
        "5hW++nf4Bj/gi/iCz/MbPpY9IiQ44owcBSrcEBgGvGV3s5/spvRybz3CLfIEV/oLXLCvcN29w+XzAVfBF3yZ3/Cd7BEhwRFn"
        "5ChQ4YbAGOSzNpR4y0YEP9mN7eX+fILb7AXulle46N/h2v2AS/ALrqRvuCD2iJDgiDNyFKhwQ2AA9CUbx3zWhiNv2ajiJxsc"
        "vNzjL3CrvsId9w43zgdc/19wGX/D1bhHhARHnJGjQIUbAqOvq8sg6ks2FvqsDWnespHJTzbAeBknXuF2f4e79gNuvi+4h77h"
        "VtgjQoIjzshRoMINgaHfZW0Ed3UZiH3JxlOftWHRWza6+ckGKS9jzTsMGR9w53/BDfwN9+EeERIccUaOAhVuCDx33E8eHy5r"
        "TwFXl8Hcl2xM9lkbWr1lI6SfbKDzMl59wLDzBaPHNwwCe0RIcMQZOQpUuCHw0HMje3a5nzyCXNaeJK4uDwRfsnHdZ2149paN"
        "sn6ywdLLmPcFQ9c3jEB7REhwxBk5ClS4IfDENYJ4cLqRPf/cTx5jLmtPI1eXh4ov2bPBZ22I95aN1H6yAdfLuPkNw98eERIc"
        "cUaOAhVuCDzuDV2e2kYQD183smeo+8mj0GXtiebq8mDyJXu++Kw9Jrxlo72fbND2MvbuESHBEWfkKFDhhsBcw5hpymDo8uQ3"
        "gniAu5E9h91PHqcua09FV5eHmy/ZM8pn7VHjLXti+MkGfq8ICY44I0eBCjcEIZpooY0OuuihjwGGGGGMCaaYYY4FllhhjQ22"
        "2OGAGClOyHBBiStqBGEjbDTRQhsddNFDHwMMMcIYE0wxwxwLLLHCGhtsscMBMVKckOGCElfUCMK78K6JFtrooIse+hhgiBHG"
        "mGCKGeZYYIkV1thgix0OiJHihAwXlLiiRhDeh/dNtNBGB1300McAQ4wwxgRTzDDHAkussMYGW+xwQIwUJ2S4oMQVNYLwv/C/"
        "Jlpoo4MueuhjgCFGGGOCKWaYY4ElVlhjgy12OCBGihMyXFDiihpB+BA+NNFCGx100UMfAwwxwhgTTDHDHAssscIaG2yxwwEx"
        "UpyQ4YISV9QIwl/hryZaaKODLnroY4AhRhhjgilmmGOBJVZYY4MtdjggRooTMlxQ4ooaQfgYPjbRQhsddNFDHwMMMcIYE0wx"
        "wxwLLLHCGhtsscMBMVKckOGCElfUCMLf4e8mWmijgy566GOAIUYYY4IpZphjgSVWWGODLXY4IEaKEzJcUOKKGkH4FD410UIb"
        "HXTRQx8DDDHCGBNMMcMcCyyxwhobbLHDATFSnJDhghJX1AjC5/C5iRba6KCLHvoYYIgRxphgihnmWGCJFdbYYIsdDoiR4oQM"
        "F5S4okYQvoQvTbTQRgdd9NDHAEOMMMYEU8wwxwJLrLDGBlvscECMFCdkuKDEFTWC8E/4p4kW2uigix76GGCIEcaYYIoZ5lhg"
        "iRXW2GCLHQ6IkeKEDBeUuKJGEL6Gr0200EYHXfTQxwBDjDDGBFPMMMcCS6ywxgZb7HBAjBQnZLigxBU1gvAtfGuihTY66KKH"
        "PgYYYoQxJphihjkWWGKFNTbYYocDYqQ4IcMFJa6oEYTv4XsTLbTRQRc99DHAECOMMcEUM8yxwBIrrLHBFjscECPFCRkuKHFF"
        "jSD8G/5tooU2Ouiihz4GGGKEMSaYYoY5FlhihTU22GKHA2KkOCHDBSWuqBGEH+FHEy200UEXPfQxwBAjjDHBFDPMscASK6yx"
        "wRY7HBAjxQkZLihxRY0g/Aw/m2ihjQ666KGPAYYYYYwJpphhjgWWWGGNDbbY4YAYKU7IcEGJK2oE4Vf41UQLbXTQRQ99DDDE"
        "CGNMMMUMcyywxAprbLDFDgfESHFChgtKXFEjCP+F/5pooY0OuuihjwGGGGGMCaaYYY4FllhhjQ222OGAGClOyHBBiStqBOF3"
        "+N1EC2100EUPfQwwxAhjTDDFDHMssMQKa2ywxQ4HxEhxQoYLSlxRIwh/wp8mWmijgy566GOAIUYYY4IpZphjgSVWWGODLXY4"
        "IEaKEzJcUOKKGkG4D/dNtNBGB1300McAQ4wwxgRTzDDHAkussMYGW+xwQIwUJ2S4oMQVNQILAy+y87AJkuSwBXLVsA1SxrAD"
        "MrewCxKosAfymLAP0olwAE71cAgO13AEzrhwDI6acAIifjgFgTecgfgXzkEYChcgGoRLsCnDFdgb4Ros0XADVkq4BS8s3IHn"
        "Fh4QIUaCFEeccEaGHBcUKFHhihtqBFZF3rnFiZc1Qgum6m2YMXdg4tqF+WMPpnF9mE0NYFIzhLnFCB7xY3jSTuCBN4XnzgyG"
        "/zmMwgsYDJcwJq1gaFjDHbqBG2UL1+sOLpsDIsRIkOKIE87IkOOCAiUqXHFDjcCS0FduZeadWyB5Wae0YbnQgVl7FybPPZjD"
        "9mEqOYAZ3RAmViOY34xhmjGBp/0UHrozePbN4RG0gCfBEgbkFYyLaxieNjBKbOFm3cE9c0CEGAlSHHHCGRlyXFCgRIUrbqgR"
        "WA+71i1LfeVWh965RZqXtVIHlixdWDn0YALfh3n0AKazQ5hVjmByN4Y51gSmOlOYcczgwT+H5+8CHoNLeBqt4KGwhrF5A0Pk"
        "FkaqHQwYB0SIkSDFESeckSHHBQVKVLjihhqBzQA3uTW5a93S2FduheqdWyh6Wa91YdnUg9VLHxYRA5jLD2FKPYKZ7RgmmBOY"
        "501hujWDWc8cJh8LmAMs4VG8gifiGh5MG3g+bGGY3sFoeUCEGAlSHHHCGRlyXFCgRIUrbqgR2AkxutmQcJPbF3CtW577yq2S"
        "vXOLVS9rxh4s3fqwghrAQmYI64kRTOvHMLuewCR3CnPNGUz55jDzWsAEaAnzkBVMB9bwVN7Aw3ELz6gdPCoOiBAjQYojTjgj"
        "Q44LCpSocMUNNQLbQIZ1uzFGN5sibnJ7E651WwS+cit179yC2cu6tQ/LxwGs4oawmBrBmmYMS4sJzPCnMNGewXx3DtPOBcz+"
        "ljAJW8FcaA1Tkg3MDLbwgN7Bc/KACDESpDjihDMy5LigQIkKV9xQI7AH5nlmK8qwbkfI6GZjxk1uf8S1bpvCV263wDu3aPey"
        "dh7AEnYIK8kRLOjGsK6awPJmCquMGUz25zDnXsDUdwkz0BVMBNcwH9vAtGgLs5MdTBIOiBAjQYojTjgjQ44LCpSocMUNNQIb"
        "gB7k9uE8z2yHGdbtShndbA65ye3RuNZtlfjK7Vh45zYOvKzfh7CMHsFqdgyLygms7aawxJrBSmcOC44FzPuXMP1ewSx4DZPR"
        "DcwJtzA128EM6YAIMRKkOOKEMzLkuKBAiQpX3FAjsPtpBmMT0oPcXqDnmS05w7qdMaObDSo3uX0i17rtGl+5XRPv3OaFlz2E"
        "ESzlx7CinsDCdgrryxks8+aw2lrAomcJa48VLAHWMBPfwIR4C/PSHUwPD4gQI0GKI044I0OOCwqUqHDFDTUCW7+mbnZgzWBs"
        "hHqQ24/0PLMtaFi3O2d0s0nmJrdX5Vq3ZeQrt3PjndtA8bKPMYbthAms6qewuJ7BGncOS80FrPiWsPBawfpnDcuQDawGtjAp"
        "38Hc+IAIMRKkOOKEMzLkuKBAiQpX3FAjsO9tzmr72dTNLrAZjM1YD3J7op5ntiYN63YIjW426tzk9stc67atfOV2j7xzmzhe"
        "9lImsKUxhZ2FGSzw57DOXsBydwmrzhUs/tawBtvAUmgLK5IdLAwOiBAjQYojTjgjQ44LCpSocMUNNQKb/ibr9t7NWW2Bm7rZ"
        "iTaDsSHsQW5f1vPM9qhh3S6l0c1moZvcnp1r3daZr9wOlnduI8nLfs4UtlVmsLsxh02GBaz1l7DkXsHKdw0L0A2sA7ewHNvB"
        "quiACDESpDjihDMy5LigQIkKV9xQI3DiYZXi4MFk3f6/OatteFM3u+FmMDalPcjtDXue2aI1rNspNbrZsHST2zd0rdu+85Xb"
        "RfPObWZ52VOawdbOHHZYFrDRsYT9hhUs+9ew+t7AIngLa9EdLAkPiBAjQYojTjgjQ44LCpSocMUNNQLHPZZnTl2sUhx+mKw7"
        "gzBndRRg6mZH3gzGxrgHuf1pzzPbxIZ1u7VGN5umbnJ7l651W4i+cjt53rkNNS/7WnPYXlrALs8SNltWsOexhq2HDewAbGEh"
        "voP18AERYiRIccQJZ2TIcUGBEhWuuKFG4KzLutSRk+WZkx+rFAcwJuvOQcxZHUeYujkVMIOxOe9Bbo/c88xWtWHdjrHRzcat"
        "m9z+qWvdNqav3G6id25Tz8ve2gK2uJaw07SCDZ817LtsYPtjC7sQO9gMOCBCjAQpjjjhjAw5LihQosIVN9QIHPRZkDtvsy51"
        "7GV55vTJKsUhkMm6sxhzVkcipm5OJsxgHBB4kNun9zyzXW5Yt2ttdLN57Ca3h+tat5XqK7ej6Z3bWPSyv7eEbbYV7HatYdNp"
        "A3s/W9iC2cFOyAERYiRIccQJZ2TIcUGBEhWuuKFG4JTTToTDRgtyZ37WpY7eLM+cgFmlOIgyWXceZM7qWMbUzemIGYxDCg9y"
        "ZwWeZ7bsDet2zo1uNrDd5PaRXeu2c33ldlW9c5ubXvYYV7DVt4Ydtw1sfG1h/2kH20AHRIiRIMURJ5yRIccFBUpUuOKGGoEj"
        "XlswTlrtRDjwtCB37mhd6vjP8swpnFWKwzCTdWdS5qyOhkzdnNCYwTgo8SB3XuF55tjAsG733uhmE91Nbi/btW5L2VduZ9c7"
        "t8HqZZ9zDduNG9j128Lm2w72wA6IECNBiiNOOCNDjgsKlKhwxQ01Aufb9p4cM9uCcdprJ8KhqwW5s0/rUkeQlmdOAq1SHMiZ"
        "rDsXM2d1PGXq5pTIDMZhjQe5MxPPM0cXhnUnCEY3G/lucvvprnXb2r5yu8veuU1eL3utG9jy3MLO4w42AA+IECNBiiNOOCND"
        "jgsKlKhwxQ01Aof7Nt2csdt7ctRtC8aJs50IB78W5M5frUsdg1qeOY20SnEoaLLubM6c1RGZqZuTKjMYB0Ye5M5tPM8cnxjW"
        "nWIY3RwmuMnt6bvWba37yu1we+c2mr3s925h23UHu58HRIiRIMURJ5yRIccFBUpUuOKGGoG/bLDb6A8MbLo557f35LjdFoxT"
        "bzsRDp8tyJ0BW5c6irU8cyJqleJg0mTd+aA5q2M6UzenZWYwDq08yJ0deZ45wjGsO0kxujnQcJM7V3Ct2973ldtl985tdnvZ"
        "c97B1u8BEWIkSHHECWdkyHFBgRIVrrihRuDPOmyz+usKu43+yMGmm781sPfkyN8WjJN3OxEOwC3InUNblzoOtjxzKmuV4nDU"
        "ZN0ZpTmro0JTNyd2ZjAOzjzInV95njlGMqw7zTG6OVRxkzvbcK07YvCV2+n3zm24e9n3PiBCjAQpjjjhjAw5LihQosIVN9QI"
        "/E2L/WV/WmKb1V942G30hxY23fy9g70nf3ZgC8bpv50Ih/AW5M7CrUsdSVueORm2SnFAa7LunNSc1XGlqZtTQzMYh3ce5M7Q"
        "PM8cZRnWnSgZ3RzsuMmdr7jWHXP4yp02eOc2/b0ixEiQ4ogTzsiQ44ICJSpccUON/wH+BChMf3eNswAAAABJRU5ErkJggg=="
    ),
    "png_palette": (
        "iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAMAAACWlYwtAAADAFBMVEVHcEwfAx8E/yEN/yEhByEKE/8hBSGgShkCE///BRMb"
        "CxsX/x0K/yYL/xwP/yYQ/xwPDg//DQr/HQn/JQr/MQo6Cf8SEBIiCf//KQkWCf8qCf//LQka/xAS/yEREhEsDSwuEC4NGw0P"
        "CQ8C/yEV/zL/CQcfAh8G/yH/OQcH/yEI/yH/KRwqHP8J/yEl/w7/LRwWHf8i/xMvCi8Z/y0V/xESB/8c/xL/IQYiHP8OHg46"
        "HP8e/xMPGQ82Bv8MIAwT/xIxEjEOFA7/HRz/DR3/JR3/MR0d/zIyBv8wHTD/FQb/NQYb/zEMFwwGH/8mHv8uHv8uEf//NRIr"
        "ISsi/zH/PQUk/zESFf8tFC0fHR8yFP8mBf//FSD/PR8GE/8g/zQmEf//FRP/PRI0JDQT/zT/NR8OBP//CRX/ORUaBP8zFjMm"
        "GCYD/xI2Ev8uBf//IRM1IDUaDv8SIf8g/wsyIP8g/yELIgsgIiAODv81GjX/OSA+E/8aGP8gJCAJJAkjGiP/ERH/EQMaIf8O"
        "Fv//EQr/GQP/ERk3GDc2G/8+DP8D/zIeF/8GCv//GRw+Gv//GQkMJgz/GSMeEP//GQ//GRUeBv8OHf8eC/8eHf//IRw+Bv//"
        "CR8OI/8eAf//ER8GBP8eI/82Iv8+H///EST/ISH/CSQ+Af8GAf8YFhj/ISQ+I/8+Jf//mh8QAv8qDBL/PmoNGRcWMxECDQIW"
        "BBYEMwQRBhEOPQ4JHQkIDQgEPwQUMRQLLQsVGBUiPSINDA0EKwQbOBsQIRAIBQgdKB0ELwQMBAwWIRYPHA8DNwMcPhwfDR8S"
        "OBIjHSMLNwskDSQjKSMYEBgNMw0QERAbCBsDJwMcFRweHB4bLhsDHwMUERQDOwMWLBYDIwMZHRkJPAkKIwoQJxAgBSAgFSAE"
        "GwQkFSQkBSQXJxcVPxUWCxYBGAECBwIWORYJJwkLEgscIhwLFwsiNyIQKxAQFxAiMyICEwIbMxsGFwYiIyIiLyIQLxAcAxwE"
        "AwQGEwYBAwEAAAAAAAFHcEw6XXfqAAABAHRSTlMAAwQNBwsFAQMFCxcKCw8QDg0dJTE7ECMpFystGhISDRAbCQIVCQIGOQcI"
        "KSsJJS0XIgoZFRMcISMeOx4YNyATEhQdDSUxHTMdFTUbFwcnLy81ISI9JBMUHTMnFT0HICcVPSQTNQ8JORsWGAM3LyEgGxMg"
        "MyAiIg8aOT8bJCQaEREbDxEZERg3PwMfBxk/GSYZHxkZHw8fHyE/CQ8fEQcfNz8RIQk/BxYhPz8XOxknJP//////////////"
        "//////////////////////////////////////////////////////////////////////////////////////////8ASrxz"
        "lAAAAAlwSFlzAAAD6AAAA+gBtXtSawAACK1JREFUSIl90OdfE2YeAPAn88kOGYwASSCBhATCCmHICAFki8gwgAoIogxBRHCD"
        "i6IoitXWVdtre6e53pt+kI2jLlx1i1uc1XPXVk/teHHPD3Hx+bT/wPfFFyGMWH8iNtr+AHkiRhsSoZI2tBiZnqMkJLuPGlHp"
        "fSRGWy+iEOR4FUlQ3jnkhJz3IBdUeQBJUQJqR8ko8jDyQvaXURba1oMxZv2J2Xj7A+yJGW1YhEva8GJseo6TsOw+bsSlt7EY"
        "b72IQ7DjVSzBRMRO2HkPdsGVB7AUJ7TjZBx5GHth+8s4C2/r0WA1608NW739gcZTzWjTiNQlbZrFatNzTZJadl/TiNSltzVi"
        "9daLmhC141WNRJ13TuOkdt6jcVFXHtBI1QntmmR15GGNl9r+siZLva2HgitYv1PYFV89oHhWMNooSFRR0kZZXGF6TkmqkN2n"
        "NFaU3qaIK7ZepIRUOF6lSJrzzlGcmp33UFyaKw9QpM0J7ZTk5sjDFK9m+8uUrOZtPYiJqazfmWzqVw+YnlRGG1NELWljLqaa"
        "njOTqLL/MRuppbeZYupnF5khVACpAFIBpAJIJYmUZCqIVBCpm3uYWAugFkAtgFoAtaY/mElaALUAaodBpoRKEpkgMkFkErGd"
        "CSATQCaAdADpBNxHJ2A3nYDddADpANIbERHpINJDtCBqAdQCqAVQC6AWQC2AWgB1rH10tg5AHQGRSEfEZToQdURcoyvtoot1"
        "n3XRQ3SO1+kSXd4jupPOeQ/dRVd5gC7VJbTTk3WRh+leOvtBepZucw9SYT1rn4qtX7VP5alndKtE+pJu1TK96Q9Vkh5APYB6"
        "APUA6gHUO/fRXfSVfXSpniTSk/WRx+leehD1mwdV2ACgAUADgAYADabHqiSD7KlqjaG0SyU2bOhShRgcr6skBpT3SOVkcO5T"
        "uRgq+1RSQ8JpVbIh8rjKy2A/qMoybB7kYB7rIIfNW7WP48ljdHNEvDndnGU80+PAJJ7saeAaxKvuChTzNnQFhvAcrwdKeHmP"
        "Ap14zn2BLrzKvkApL+F0YDIv8nigF89+MDCLt4KAfAD5qw5yPPmM3Rwk4s95zFnGNz3mJPFlTzlr+NVdHDF/QxcnhO94nSPh"
        "5z3iOPGd+zgu/Mo+jpSfcJqTzAeQDyB/xSBSYhrroJJNW3VQ6Ulj7FaKaHN2K5fRTI+VSTTZU+UaWvUhpZi2oUsJoFLCL3gH"
        "pg+B6I3IIWInZzJ/RacdgHYA2gFo9x4sBHDdMHhIWUUDkIYKbiidaM59Shdaep9SSks4rRxHm35c6UWz71ROpgEoAFAAoABA"
        "wZzddosEpjN2hQLZL3brkKD6kJ1Y8OleuyqB4147Ca3ghh0BnwH4moC5I0EHAnY4sAWTOhymEtABEfGMwyLB+LfiR6CbRFBw"
        "w81J4PzMzUWQ/tpNKsg97TZOMP2Y2zQBgIIVncgBC0EUgigkokgIoHD8GYdCoewXh3XC6kMOYuGnex2qhAAKARQCKARQmIuI"
        "KARRaN/pNlk4v1OB5awOBVs+qUMxVc7oUIjkc84oFskBlAMoB1A+DEZLhCQxGsTot2LvO/DY34MKABXrEBEVICqq5CDKAZQD"
        "KE9/HS2V5/ZGj5NPPxY9TW5/LHqyfP49CzazOixs86QOy1Qz478WJDIvvaRYZB5/SVFolu1UrDdX71SIzQCaHfdaJcUFN6xO"
        "xc7PrC7F6b3R0mIAiwEsBrB4/j1kwUGsHRZ20KQdlqlBRIwNWnrJAqCl0Oy/07LevGCnJca8st9aZQ7tt8Z5FNy1env4XLH6"
        "eaT3Wkd75KJeK4jWacWjHlpBtAFoA9AGoA1A26IgAIMADAIwaGW/pSootL8szgMV3C0DsQzEMiIS0GP6Q+s0DwA95t9LxVzW"
        "jlQ2F0AugNylp2yfcMdfshVy/Xfa1iMi2kC0gWiLC/oAvDIElgFYBmDZx2AqgKkIxFQinkoFMXU9d8E1Wwx3ZX95FTe0vzyO"
        "W3C33Jvrc6XJj5t+pWk0N7e3aRx3OQG5AHJX30MR2JW1IwLECBAjAIwAMALACADLCXitfNMQaEwjoNHnSrmfcSwBjbnoRdM4"
        "4/KHTdOMox42TTauvuf+BnSddDZiqivjbESsK4CuABr9ByJajAuuNcQYV15r2GQMfdIQZ0QfiBfmEvHF3CnG5T8A+EPTROPq"
        "IwD+5s52HXPWHUD3WNfPT7kTcKBhgqv/QEMLcgXRFURXEF3T7jZ4p/hcaPBL+RCcC+DcN2AwgMEE3BJMQBQbPCy6g+jeQkD3"
        "mJSNTxo2pQCYkrb/PdgwOmUWAVMIOC8FwJTVR1DYCJGAR90/CZ5JwGD/gZyW4AXnc2KCNz7J2RQc+iQxLjhtf6J3vM/+RL/4"
        "sRcSCYheJIKYSMQjQ2IYDmf9FsYOH3M2bEs442hYbPjnR3O+DJ85kDMMLhkCz+dsig99khMXjz4W42cRMB7A+FFHEifGf/Me"
        "vPkeDAMwbEK4/0BYCwpfcj4sJhzEcBDD0/bneIf/DRiFa1g3o9g1Y25GbalhHI1CsTVvxFsg3gprGQJrN54P+2dt6MuMuFoA"
        "8332z/DLH/tqxuj8Wb/OmJL/9c8z5uWP2jVjYv43R9BIEcCoL2tm3oqaUON/K2pt7ZLzUQBmvAMzvGt9Tr4D0QhxVx0OYN2s"
        "YweMuVm3JQDAgC8+AGevrVny4+yY2n/8OHsYRGknM7wzfU5m+GWOfZUxOnPWrxl/Cf4rgHGijoAn6r4NmHmrbkIAgCgAxAAQ"
        "A0Jfzo7LTDs5eySY+fXPGfMyAcz8blc9AX+qJ+BP9UMgeiveAfHOwrUEXAjgwn8PgdkAZvucLPLLHvuqCMAiAIsALAIQ1WNf"
        "EH1B9GWcqI/1/eJE/be+M+98P8EXQF8AswHMDn25EMCFH4DZJLFoSjaI2SBmf7erFcBWAFs/BusB/P4N6Aug7xCIhsWFb8WP"
        "wf+MBFsBbAWwFcDWtf8HPAlGgdUbB/8AAAAASUVORK5CYII="
    ),
    "webp": (
        "UklGRl4BAABXRUJQVlA4WAoAAAAYAAAAPwAALwAAQUxQSBQAAAABmYzof0BMQ9A/ut8iJmACiLr2HVZQOCBiAAAAcAQAnQEq"
        "QAAwAD6RSJ9MJaQioiKoALASCWcAwrPV0PN/QDb/tlAvlJ/n1gAA/vgtBrVHM7o7m9xY/INf10mZKZEqRYuZ5Mf0eukarvYI"
        "DHD7eFcrPWeWlkqIMGQAGwAAAABFWElGugAAAEV4aWYAAElJKgAIAAAABgASAQMAAQAAAAEAAAAaAQUAAQAAAFYAAAAbAQUA"
        "AQAAAF4AAAAoAQMAAQAAAAIAAAATAgMAAQAAAAEAAABphwQAAQAAAGYAAAAAAAAAOGMAAOgDAAA4YwAA6AMAAAYAAJAHAAQA"
        "AAAwMjEwAZEHAAQAAAABAgMAAKAHAAQAAAAwMTAwAaADAAEAAAD//wAAAqAEAAEAAABAAAAAA6AEAAEAAAAwAAAAAAAAAA=="
    ),
    "webp_lossless": (
        "UklGRh4BAABXRUJQVlA4WAoAAAAYAAAAPwAALwAAVlA4TD4AAAAvP8ALEE0ARNL+5hNE9D/1hZCA8H+lMZIFAzLQ/Z8Ah+YN"
        "1LZtw8j/v+3NaVMwARMwARMAQbpOPIu9P/X9A0VYSUa6AAAARXhpZgAASUkqAAgAAAAGABIBAwABAAAAAQAAABoBBQABAAAA"
        "VgAAABsBBQABAAAAXgAAACgBAwABAAAAAgAAABMCAwABAAAAAQAAAGmHBAABAAAAZgAAAAAAAAA4YwAA6AMAADhjAADoAwAA"
        "BgAAkAcABAAAADAyMTABkQcABAAAAAECAwAAoAcABAAAADAxMDABoAMAAQAAAP//AAACoAQAAQAAAEAAAAADoAQAAQAAADAA"
        "AAAAAAAA"
    ),
    "gif": (
        "R0lGODlhQAAwAIcAAAAAAAwjDAYXBgEvAQErAQEnAQgnCAEPAQwnDAoLCgETAQEDAS4vLisTKwELAS4rLh4vHiUPJSUvJSMH"
        "IwEfASonKhsfGyQfJBEPER4jHgEjARAbECIPIiIrIiwPLBMvExgjGAgHCBAjEBsjGyMnIxYnFh0DHQQTBCULJSobKgcLBwsP"
        "CxgfGA4PDh4nHgQLBAsHCxwbHAkfCQUrBScfJxoDGhMjExIDEgcTBwobCgwvDAUPBSILIgYfBhYPFgcbBw0bDQEbASEXIQoX"
        "CgMXAw0TDScrJwYjBgoTChsnGwUnBSMDIw4rDggPCAQDBBUXFQEHARkbGSADIBcDFxwXHAkjCQgrCCcbJygLKAQbBC4HLi4b"
        "Li4fLi4jLikPKSwXLCAvIBQDFCcDJyQbJC4DLhkvGSETISojKicXJyYTJicPJyofKh0rHS4nLhUvFSkvKR0fHSsvKxorGiAj"
        "IAUHBSUXJRIbEiwjLCEfISIbIhELEQoDCicvJxMfEyIjIhsvGygjKBMnEywHLBcvFysrKxMTEwwXDCAbIAMvAywDLB4XHggD"
        "CCAHIBMPExoHGgUvBRsLGxUrFS0LLSsLKykHKQ0HDQMjAw4XDhMrEyAnIBEnES0TLS4XLigTKBEfERAvECQrJBcLFxUfFScn"
        "JyMXIywbLBcXFxkXGQ0fDRwHHAMHAxkPGRcTFx0PHR4bHhYbFg8fDx8LHx8fHywfLA8nDxgnGAMfAyMTIyIvIhsTGxMLExYH"
        "Fg0DDQsfCw8LDxsPGwcvBwAXABETERUTFRAXEBQbFCUnJRcrFw4vDhMHEx8rHykDKQ0LDSwnLBkTGScHJyQjJAsrCxEHERAr"
        "ECkrKR8PHx8THw8DDx0LHRULFQYDBgkvCR0THSoXKiYjJhUjFR4HHhIXEi8TLy8PLyUHJRwrHBgHGCsHKyYDJg8TDxkHGSkf"
        "KSUTJRAHECsDKxUHFRIrEhATEBkrGQorCiYHJhgPGBkLGRoLGg8HDyUDJS4PLikXKQwDDC8LLyoLKgAAACH/C05FVFNDQVBF"
        "Mi4wAwEAAAAh+QQFAAAAACwAAAAAQAAwAAAI/wABCASwYCAAKAYdGDxgUIHBYAaDGKRgUIPBAgYJGBxg0GDBgQgHKhzIcKDD"
        "gRAHShxIcaDFgRgHahzIsaPAjwJDChwpsKTAkwKJRJxY8WLGjTYFOjGoyuCLhQZPGBQ6MItBWwYtGZVpEFFSAEsHNh34dOCO"
        "qFMNWh2IdaDWgUoMzuj6NaxAOk4Nnh0odaAAtQZ7GDxiMO7AuQMffdVmEO9AFXoN4jD4d+CPwIMLyzWoOCnjgSEMQh7YRDJl"
        "g5cHCh5IeKABg1YMAvu6yGDoxwZLD5zsF7VBGQarGHw9MPbA2UlrgzaYILdBJAaHGMzxO/hw2Aa3fd1jEAZzgyueR/+fXn2g"
        "cNcG52Xf3v37wPADoQ+UPpD6wF4GAxhEYDCaQR1f8dPeQMyAZ1ARBhliEBAG4TeQfgPxN5B/AwGYFC8GVWJQgQO1cGCCCxqE"
        "Sn77GcTEf19hOJCGBBrk4UAIDnRJiAON+KBBtJhoEDJfXWMQPgb54qJB6Rg040AbGASLQSLgqONAPCbl40DtBGkQBgbFYxAx"
        "BiU50JIDNTlQjgNNY9AnX91gkDQG6XGlQcJs2aVBnjBpkCYGmTkQmkmpORCbA7k5EJYDxTlQOAbZQadBNtxpEDwGfZCmQckY"
        "pItBjRhUiEGIDqToQH0walAgBmES6VdhUGopppoa9IRBxRj/FOpAjQ5E6kCmDiRpUqkO9I5B2Rjkg0HDuAqrQaIY9I1BJRgU"
        "iUFufDWFQbsAKyyxxg70CrLKMusstNJSa1Ao1w7EikGmGLTtQCwYBIK3Ax1j0CDhDmTOuAbVY9C5A6U7UBQGtTvQuwPVYpC8"
        "A9GbVA0GqWOQPQatYpAzBp1iEMDsumuQwQPJY1AZXzE8kCMG3RPxxBVfbJAFBo1gUBIGyfFxyAaRPBAkBv1iUC4GUWFQDCu3"
        "/HLMBv3xlQkGpWIQzgPpPBDPA/k8ENADsTyQywPBPFA5RR+dtEHYGNSKQdz0/LNBcBiUgUEuGMSGQRB4PRA4YItNtkGKGOQK"
        "2mqz/+023F9JYRDdA8ViUDUGWYO33gbJ0vdAbQ+kDOBJCT4QIwYZPhDiAyk+kBAGHdK4QXMYlIlBkw8ERuAGYT4QDwZxYJAZ"
        "BoE+kOgD4UG66QZ1YNDqSS1h0AQGwT6Q7APR/rlBeRik+0B+GERC7wbh8pXwAxH/euwG3WIQKcwbdIFB0Q80/UC+D2R98MMb"
        "hIJBEXT/vUFjiG8QNNIbBIpBEnyVj0HkcB/8DMIOg9SBfvYbCP4GYgz98e8r6DAIPQQ4kPgNJA0GNMgVDEIDg3jDIA0ciBEe"
        "mBQxGOQZBsGCQdRgEAwOBA0a5KAHDTIKg4xwIHz4igkHgsKBqHAgLBxIJ+IMAsOBbHAgHRwIIGhoQ4PkMCnLMAglUmgQLxhk"
        "iAPZh0FSYJB1GGSJA6mAQahhkDd8JYoDmeJA/FFFgzTAIN3YokHWYJAzGESMAyHjQMyYFHcY5BwGmYRBPOBGOMpxIHQciB3D"
        "aBBCGCQOX0mEQQQRyEEWciBfMEgpDDILg9zBIM1o5CMjOUmDSMKSA9mEQTI5kE0OpJMD+eRAQjmQBxiEAV8hg0G0YEqD6MMg"
        "qhwIJwyyBYNwwSBdMEgbDGLLgeAyKbocCC8H0g+DjMMg4jDIMAdSzIEccyDJHMgya3lLgwQEADs="
    ),
    "tiff_deflate": (
        "SUkqAAwBAAB4nO3OR1YCAAAD0VGwoNgQGxZEULHB/W/ny/MQs4j5i2wHsp1/kr+zK3qxG3ZFLwZhV/RiGHZFL/bCrujFftgV"
        "vTgIu6IXh2FX9GIUdkUvjsKu6MVx2BW9GIdd0YuTsCt6cRp2RS/Owq7oxXnYFb24CLuiF5OwK3pxGXZFL6ZhV/TiKuyKXlyH"
        "XdGLm7ArenEbdkUv7sKu6MUs7Ipe3Idd0YuHsCt68Rh2RS+ewq7oxTzsil48h13Ri0XYFb14CbuiF8uwK3qxCruiF69hV/Ti"
        "LeyKXryHXdGLddgVvfgIu6IXn2FX9OIr7IpefIdd0YufsCt6sQm7ohfbsCt6/QLTKTCpABEAAAEDAAEAAABAAAAAAQEDAAEA"
        "AAAwAAAAAgEDAAYAAADuAQAAAwEDAAEAAAAIAAAABgEDAAEAAAACAAAAEQEEAAEAAAAIAAAAEgEDAAEAAAABAAAAFQEDAAEA"
        "AAAGAAAAFgEDAAEAAACAAAAAFwEEAAEAAAADAQAAGgEFAAEAAADeAQAAGwEFAAEAAADmAQAAHAEDAAEAAAABAAAAKAEDAAEA"
        "AAADAAAAPQEDAAEAAAACAAAAUgEDAAMAAAD6AQAAUwEDAAYAAAAAAgAAAAAAAAoAAAABAAAACgAAAAEAAAAIAAgACAAIAAgA"
        "CAACAAIAAgABAAEAAQABAAEAAQA="
    ),
    "avif": (
        "AAAAHGZ0eXBhdmlmAAAAAGF2aWZtaWYxbWlhZgAAAc1tZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAAAAAAAAAA"
        "AAAAAA5waXRtAAAAAAABAAAARmlsb2MAAAAAREAAAwACAAAAAAHxAAEAAAAAAAAAHAABAAAAAAINAAEAAAAAAAAALgADAAAA"
        "AAI7AAEAAAAAAAAAvgAAAE1paW5mAAAAAAADAAAAFWluZmUCAAAAAAEAAGF2MDEAAAAAFWluZmUCAAAAAAIAAGF2MDEAAAAA"
        "FWluZmUCAAABAAMAAEV4aWYAAAAA12lwcnAAAACxaXBjbwAAABNjb2xybmNseAACAAIABoAAAAAMYXYxQ4EAHAAAAAAUaXNw"
        "ZQAAAAAAAABAAAAAMAAAAA5waXhpAAAAAAEIAAAAOGF1eEMAAAAAdXJuOm1wZWc6bXBlZ0I6Y2ljcDpzeXN0ZW1zOmF1eGls"
        "aWFyeTphbHBoYQAAAAAMYXYxQ4EADAAAAAAUaXNwZQAAAAAAAABAAAAAMAAAABBwaXhpAAAAAAMICAgAAAAeaXBtYQAAAAAA"
        "AAACAAEEgYYHiAACBIIDhIUAAAAoaXJlZgAAAAAAAAAOYXV4bAACAAEAAQAAAA5jZHNjAAMAAQABAAABEG1kYXQSAAoGGBV/"
        "vYVAMhAYAAABADPdGjRnLshhWxzAEgAKCRgVf72CBAQNCDIfGAAAAEBvN1VKDYET//qTjfQ23oAXbKRQa52tI11gwAAAAAZF"
        "eGlmAABJSSoACAAAAAYAEgEDAAEAAAABAAAAGgEFAAEAAABWAAAAGwEFAAEAAABeAAAAKAEDAAEAAAACAAAAEwIDAAEAAAAB"
        "AAAAaYcEAAEAAABmAAAAAAAAADhjAADoAwAAOGMAAOgDAAAGAACQBwAEAAAAMDIxMAGRBwAEAAAAAQIDAACgBwAEAAAAMDEw"
        "MAGgAwABAAAA//8AAAKgBAABAAAAQAAAAAOgBAABAAAAMAAAAAAAAAA="
    ),
    "heic": (
        "AAAAHGZ0eXBoZWljAAAAAG1pZjFoZWljbWlhZgAAAzNtZXRhAAAAAAAAACFoZGxyAAAAAAAAAABwaWN0AAAAAAAAAAAAAAAA"
        "AAAAAA5waXRtAAAAAAACAAAAGGlkYXQAAAAAAEAAMAAAAAAAQAAwAAAAdGlsb2MBAAAAREAABQABAAAAAAAAA1cAAQAAAAAA"
        "AABOAAIAAQAAAAAAAAABAAAAAAAAAAgAAwAAAAAAAAOlAAEAAAAAAAAAIQAEAAEAAAAAAAAAAQAAAAgAAAAIAAUAAAAAAAAD"
        "xgABAAAAAAAAAL4AAAB3aWluZgAAAAAABQAAABVpbmZlAgAAAQABAABodmMxAAAAABVpbmZlAgAAAAACAABncmlkAAAAABVp"
        "bmZlAgAAAQADAABodmMxAAAAABVpbmZlAgAAAAAEAABncmlkAAAAABVpbmZlAgAAAQAFAABFeGlmAAAAAbFpcHJwAAABhGlw"
        "Y28AAAB2aHZjQwEDcAAAAAAAAAAAAB7wAPz9+PgAAA8DIAABABhAAQwB//8DcAAAAwCQAAADAAADAB66AkAhAAEAKkIBAQNw"
        "AAADAJAAAAMAAAMAHqAggQWW6uSmubgQEDAgAAADACAAAAMAISIAAQAGRAHBc8CJAAAAFGlzcGUAAAAAAAAAQAAAAEAAAAAU"
        "aXNwZQAAAAAAAABAAAAAMAAAABBwaXhpAAAAAAMICAgAAABxaHZjQwEECAAAAAAAAAAAAB7wAPz8+PgAAA8DIAABABdAAQwB"
        "//8ECAAAAwCf+AAAAwAAHroCQCEAAQAmQgEBBAgAAAMAn/gAAAMAAB7AggQWW6uSmubAgAAAAwCAAAADAIQiAAEABkQBwXPA"
        "iQAAABRpc3BlAAAAAAAAAEAAAABAAAAAFGlzcGUAAAAAAAAAQAAAADAAAAAOcGl4aQAAAAABCAAAACdhdXhDAAAAAHVybjpt"
        "cGVnOmhldmM6MjAxNTphdXhpZDoxAAAAACVpcG1hAAAAAAAAAAQAAQKBAgACAgOEAAMChQYABAMHiIkAAABEaXJlZgAAAAAA"
        "AAAOZGltZwACAAEAAQAAAA5kaW1nAAQAAQADAAAADmF1eGwABAABAAIAAAAOY2RzYwAFAAEAAgAAATVtZGF0AAAASigBrxOA"
        "9Tnp1mTnPpfe/6smYRclFsWzPv55fdhJ4R+IRpo/dmypfa7gZt7cu5euXjZsQOFq2QkpCj3XdTacKpnAqGmlJOAeLJtdAAAA"
        "HSgBrifpCyudjQHdqg+gL2keGZggqZmZlEKXkEJwAAAABkV4aWYAAElJKgAIAAAABgASAQMAAQAAAAEAAAAaAQUAAQAAAFYA"
        "AAAbAQUAAQAAAF4AAAAoAQMAAQAAAAIAAAATAgMAAQAAAAEAAABphwQAAQAAAGYAAAAAAAAAOGMAAOgDAAA4YwAA6AMAAAYA"
        "AJAHAAQAAAAwMjEwAZEHAAQAAAABAgMAAKAHAAQAAAAwMTAwAaADAAEAAAD//wAAAqAEAAEAAABAAAAAA6AEAAEAAAAwAAAA"
        "AAAAAA=="
    ),
}
