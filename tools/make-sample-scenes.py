#!/usr/bin/env python3
"""Draws the serve page's bundled sample scenes (coloured shapes on a plain background) as PNGs.

Pure standard library, deterministic: run it again and the files come out byte-identical.
Usage: python3 tools/make-sample-scenes.py src/GroundSharp.Web/wwwroot/samples
"""
import struct
import sys
import zlib
from pathlib import Path

COLOURS = {"red": (220, 40, 40), "blue": (40, 80, 220), "green": (40, 160, 60), "yellow": (240, 200, 30)}

# (file, width, height, background, [(kind, colour, x, y, size)])
SCENES = [
    ("shapes-1.png", 320, 240, (235, 235, 225),
     [("circle", "red", 30, 60, 80), ("square", "blue", 130, 110, 70), ("triangle", "green", 220, 40, 80)]),
    ("shapes-2.png", 320, 240, (225, 230, 240),
     [("square", "yellow", 40, 130, 80), ("circle", "blue", 150, 30, 90), ("triangle", "red", 230, 140, 70)]),
    ("shapes-3.png", 240, 320, (240, 235, 225),
     [("triangle", "blue", 30, 30, 90), ("circle", "green", 120, 150, 80), ("square", "red", 40, 230, 60)]),
]


def inside(kind, x, y, sx, sy, size):
    if kind == "square":
        return sx <= x < sx + size and sy <= y < sy + size
    if kind == "circle":
        r = size / 2
        return (x + 0.5 - sx - r) ** 2 + (y + 0.5 - sy - r) ** 2 <= r * r
    # Upright isosceles triangle in the size x size box.
    if not (sy <= y < sy + size):
        return False
    half = (y + 0.5 - sy) / size * size / 2
    cx = sx + size / 2
    return cx - half <= x + 0.5 <= cx + half


def render(width, height, background, shapes):
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            colour = background
            for kind, name, sx, sy, size in shapes:
                if inside(kind, x, y, sx, sy, size):
                    colour = COLOURS[name]
            row += bytes(colour)
        rows.append(bytes(row))
    return b"".join(rows)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height, raw):
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, width, height, background, shapes in SCENES:
        (out / name).write_bytes(png(width, height, render(width, height, background, shapes)))
        print(name, ", ".join(f"the {c} {k}" for k, c, *_ in shapes))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "src/GroundSharp.Web/wwwroot/samples")
