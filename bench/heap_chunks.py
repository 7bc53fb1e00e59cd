#!/usr/bin/python3
"""What a running process's heap holds, by allocation size: glibc's malloc chunks walked in
/proc/PID/mem, the main heap and every thread arena.

    bench/heap_chunks.py PID [--top N] [--per COUNT]

Prints, for each arena, its chunks in use grouped by chunk size (the request rounded up
to 16 bytes, plus 8 of header), largest total first, with the printable bytes of one of
them: enough to tell a path from an object. --per divides each count by COUNT (keys,
volumes) so a row reads "so many of these per key". Massif sees what is allocated while
it runs; this reads what a real run holds, arena by arena. Reading another process's
memory needs root, or a ptrace scope that allows it. bench/tool-footprint --heap FILE runs
it on its large run, before stopping it.
"""
import argparse
import collections
import re
import struct
import sys

MIN_CHUNK = 32
HEADER = 16  # prev_size and size
PREV_INUSE = 1


def arenas(pid):
    """The writable, anonymous mappings that hold malloc's chunks: [heap] (the main arena)
    and the thread arenas' heaps (anonymous, at least 128 KiB: smaller ones are stacks'
    guard pages, TLS and the like, which a walk would reject anyway)."""
    for line in open(f"/proc/{pid}/maps"):
        fields = line.split()
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        name = fields[5] if len(fields) > 5 else ""
        if fields[1] == "rw-p" and (name == "[heap]" or (not name and hi - lo >= 128 << 10)):
            yield lo, hi, name or "arena"


def walk(data, start):
    """The chain of chunks from start: each size field leads to the next. Stops where a size
    is implausible. Returns [(offset, size, in_use)], in_use read from the next chunk's
    PREV_INUSE bit (the last chunk, the top, is never counted)."""
    chunks = []
    off = start
    while off + HEADER <= len(data):
        size = struct.unpack_from("<Q", data, off + 8)[0]
        length = size & ~7
        if length < MIN_CHUNK or off + length > len(data):
            break
        chunks.append([off, length, False])
        if len(chunks) > 1:
            chunks[-2][2] = bool(size & PREV_INUSE)
        off += length
    return chunks


def longest_chain(data):
    """A thread arena's heap begins with its heap_info and malloc_state; the main heap with
    alignment padding. Rather than parse either, take the start (16-byte aligned, within
    the first few KiB) whose chain of chunks covers the most bytes."""
    best = []
    for start in range(0, min(len(data), 0x1200), 16):
        chain = walk(data, start)
        if chain and (not best or chain[-1][0] - start > best[-1][0] - best[0][0]):
            best = chain
    return best


def printable(raw):
    return re.sub(rb"[^\x20-\x7e]", b".", raw).decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--top", type=int, default=12, help="sizes shown per arena (12)")
    parser.add_argument("--per", type=float, default=0, help="divide counts by this (keys)")
    args = parser.parse_args()
    try:
        mem = open(f"/proc/{args.pid}/mem", "rb")
    except OSError as e:
        sys.exit(f"heap_chunks: cannot read the memory of {args.pid}: {e.strerror} "
                 "(root, or a ptrace scope that allows it)")
    grand = 0
    for lo, hi, name in arenas(args.pid):
        mem.seek(lo)
        data = mem.read(hi - lo)
        chain = longest_chain(data)
        if len(chain) < 2:
            continue
        count = collections.Counter()
        sample = {}
        for off, length, in_use in chain[:-1]:
            if in_use:
                count[length] += 1
                sample.setdefault(length, data[off + HEADER:off + min(length, HEADER + 64)])
        total = sum(length * n for length, n in count.items())
        grand += total
        per = f", {total / args.per:.0f} B per" if args.per else ""
        print(f"== {name} {lo:#x}: {(hi - lo) >> 10} KiB mapped, {total >> 10} KiB in "
              f"{sum(count.values())} chunks in use{per}")
        for length, n in sorted(count.items(), key=lambda kv: -kv[0] * kv[1])[:args.top]:
            share = f" {n / args.per:7.2f} per  {length * n / args.per:6.0f} B per" if args.per else ""
            print(f"  {length:7d} B x {n:7d} = {length * n >> 10:7d} KiB{share}  "
                  f"{printable(sample[length])}")
    per = f", {grand / args.per:.0f} B per" if args.per else ""
    print(f"== in use, every arena: {grand >> 10} KiB{per}")


if __name__ == "__main__":
    main()
