#!/usr/bin/env python3
"""Writes a SoundFont 2 file holding only some presets of another, unchanged.

The page plays its first clip (the starter model writes piano) with a small sound bank cut from
the General MIDI SoundFont, so the first click does not wait for all of it; the presets, their
instruments, zones, generators, modulators and sample data are copied byte for byte, so those
instruments sound exactly as in the whole font (tests/synth.rs checks this).

    python3 scripts/soundfont_subset.py static/soundfont/TimGM6mb.sf2 static/soundfont/piano.sf2 0:0

Each preset is BANK:PROGRAM.
"""
import struct
import sys

GEN_INSTRUMENT, GEN_SAMPLE = 41, 53
# The SoundFont 2.04 specification asks for 46 zero sample points after each sample's end.
SAMPLE_PAD = 46


def chunks(data, start, end):
    """(id, offset of the body, size) of each RIFF chunk in data[start:end]."""
    while start < end:
        cid = data[start:start + 4]
        (size,) = struct.unpack_from("<I", data, start + 4)
        yield cid, start + 8, size
        start += 8 + size + (size & 1)


def records(body, size):
    return [body[i:i + size] for i in range(0, len(body), size)]


def chunk(cid, body):
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def zones(headers, bags, gens, mods, bag_field):
    """For each header but the terminal one: its zones, each as (generator records, modulator records)."""
    out = []
    for h in range(len(headers) - 1):
        first = struct.unpack_from("<H", headers[h], bag_field)[0]
        last = struct.unpack_from("<H", headers[h + 1], bag_field)[0]
        zs = []
        for b in range(first, last):
            g0, m0 = struct.unpack("<HH", bags[b])
            g1, m1 = struct.unpack("<HH", bags[b + 1])
            zs.append((gens[g0:g1], mods[m0:m1]))
        out.append(zs)
    return out


def write_level(headers, kept, all_zones, bag_field, remap_gen, remap):
    """The header, bag, generator and modulator chunks of the kept headers, index remapped."""
    hdr, bag, gen, mod = [], [], [], []
    for i in kept:
        h = bytearray(headers[i])
        struct.pack_into("<H", h, bag_field, len(bag))
        hdr.append(bytes(h))
        for gens, mods in all_zones[i]:
            bag.append(struct.pack("<HH", len(gen), len(mod)))
            for g in gens:
                oper, amount = struct.unpack("<HH", g)
                gen.append(struct.pack("<HH", oper, remap[amount]) if oper == remap_gen else g)
            mod.extend(mods)
    terminal = bytearray(headers[-1])
    struct.pack_into("<H", terminal, bag_field, len(bag))
    hdr.append(bytes(terminal))
    bag.append(struct.pack("<HH", len(gen), len(mod)))
    gen.append(b"\0" * 4)
    mod.append(b"\0" * 10)
    return [b"".join(x) for x in (hdr, bag, mod, gen)]


def main(src, dst, wanted):
    data = open(src, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"sfbk", "not a SoundFont 2 file"
    lists = {}
    for cid, off, size in chunks(data, 12, len(data)):
        if cid == b"LIST":
            lists[data[off:off + 4]] = {c: data[o:o + s] for c, o, s in chunks(data, off + 4, off + size)}
    info, smpl, pdta = lists[b"INFO"], lists[b"sdta"][b"smpl"], lists[b"pdta"]
    phdr, inst, shdr = records(pdta[b"phdr"], 38), records(pdta[b"inst"], 22), records(pdta[b"shdr"], 46)
    presets = zones(phdr, records(pdta[b"pbag"], 4), records(pdta[b"pgen"], 4), records(pdta[b"pmod"], 10), 24)
    instruments = zones(inst, records(pdta[b"ibag"], 4), records(pdta[b"igen"], 4), records(pdta[b"imod"], 10), 20)

    kept_presets = [i for i in range(len(phdr) - 1) if struct.unpack_from("<HH", phdr[i], 20)[::-1] in wanted]
    missing = set(wanted) - {struct.unpack_from("<HH", phdr[i], 20)[::-1] for i in kept_presets}
    assert not missing, f"no such preset (bank, program): {sorted(missing)}"
    used = lambda zs, oper: sorted({struct.unpack("<HH", g)[1] for gens, _ in zs for g in gens if struct.unpack("<HH", g)[0] == oper})
    kept_inst = sorted({i for p in kept_presets for i in used(presets[p], GEN_INSTRUMENT)})
    kept_samples = set(s for i in kept_inst for s in used(instruments[i], GEN_SAMPLE))
    # A stereo sample brings its other side.
    for s in list(kept_samples):
        link, kind = struct.unpack_from("<HH", shdr[s], 42)
        if kind & 0x6:
            kept_samples.add(link)
    kept_samples = sorted(kept_samples)

    # Sample data: each kept sample's points and its padding, copied in order.
    new_smpl, new_shdr, sample_index = bytearray(), [], {s: n for n, s in enumerate(kept_samples)}
    for s in kept_samples:
        name, start, end, loop_start, loop_end, rest = shdr[s][:20], *struct.unpack_from("<IIII", shdr[s], 20), shdr[s][36:]
        base = len(new_smpl) // 2
        new_smpl += smpl[2 * start:2 * end] + b"\0" * (2 * SAMPLE_PAD)
        rest = bytearray(rest)
        link, kind = struct.unpack_from("<HH", rest, 6)
        struct.pack_into("<H", rest, 6, sample_index.get(link, 0) if kind & 0x6 else 0)
        new_shdr.append(name + struct.pack("<IIII", base, base + end - start, base + loop_start - start, base + loop_end - start) + bytes(rest))
    new_shdr.append(shdr[-1])

    p_hdr, p_bag, p_mod, p_gen = write_level(phdr, kept_presets, presets, 24, GEN_INSTRUMENT, {i: n for n, i in enumerate(kept_inst)})
    i_hdr, i_bag, i_mod, i_gen = write_level(inst, kept_inst, instruments, 20, GEN_SAMPLE, sample_index)
    body = b"sfbk"
    body += chunk(b"LIST", b"INFO" + b"".join(chunk(c, v) for c, v in info.items()))
    body += chunk(b"LIST", b"sdta" + chunk(b"smpl", bytes(new_smpl)))
    body += chunk(b"LIST", b"pdta" + b"".join(chunk(c, v) for c, v in [
        (b"phdr", p_hdr), (b"pbag", p_bag), (b"pmod", p_mod), (b"pgen", p_gen),
        (b"inst", i_hdr), (b"ibag", i_bag), (b"imod", i_mod), (b"igen", i_gen), (b"shdr", b"".join(new_shdr))]))
    open(dst, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
    print(f"{dst}: {len(kept_presets)} preset(s), {len(kept_inst)} instrument(s), {len(kept_samples)} sample(s), {8 + len(body)} bytes")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], [tuple(int(x) for x in p.split(":")) for p in sys.argv[3:]])
