#!/usr/bin/env python3
"""Writes a corpus of band pieces (drums, bass, guitar, keys, sometimes a lead) as type-1 MIDI files.

Our own music, made by rules (chord progressions, grooves, walking and root bass, strums, voicings,
a chord-tone melody), so Cantor has a multi-instrument corpus with drums whose licence is ours
(MIT OR Apache-2.0, like the code). Deterministic for a seed; standard library only.

    python3 scripts/band_corpus.py OUT_DIR [--pieces 24] [--bars 32] [--seed 1]
"""
import argparse
import os
import random
import struct

TPQ = 480
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]
PROGRESSIONS = {
    "pop": [0, 4, 5, 3],          # I V vi IV
    "rock": [0, 3, 4, 3],         # I IV V IV
    "jazz": [1, 4, 0, 0],         # ii V I I
    "minor": [0, 5, 2, 6],        # i VI III VII
    "blues": [0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4],
}


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track(events):
    """events: (tick, order, bytes); returns an MTrk chunk."""
    events.sort(key=lambda e: (e[0], e[1]))
    data, now = b"", 0
    for tick, _, msg in events:
        data += vlq(tick - now) + msg
        now = tick
    data += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def note(events, channel, pitch, start, length, velocity):
    s, e = int(start * TPQ), int((start + length) * TPQ)
    events.append((s, 2, bytes([0x90 | channel, pitch, max(1, min(127, velocity))])))
    events.append((max(e, s + 1), 0, bytes([0x80 | channel, pitch, 64])))


def chord_tones(key, scale, degree):
    return [key + scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4, 6)]


def piece(rng, bars):
    style = rng.choice(list(PROGRESSIONS))
    minor = style == "minor" or (style != "blues" and rng.random() < 0.25)
    scale = MINOR if minor else MAJOR
    key = rng.randrange(12)
    waltz = style in ("pop", "minor") and rng.random() < 0.3
    beats = 3 if waltz else 4
    bpm = rng.choice([84, 92, 100, 108, 116, 124, 132, 140])
    swing = style in ("jazz", "blues")
    prog = PROGRESSIONS[style]
    drums, bass, guitar, keys, lead = [], [], [], [], []
    programs = {1: rng.choice([33, 34, 32]), 2: rng.choice([25, 27, 29]), 0: rng.choice([4, 0, 16]), 3: rng.choice([73, 65, 56, 80])}
    has_lead = rng.random() < 0.6
    fill_every = rng.choice([4, 8])
    hat = 42 if rng.random() < 0.7 else 51  # closed hi-hat or ride
    off = 2 / 3 if swing else 0.5
    melody_pitch = key + 72
    for bar in range(bars):
        t0 = bar * beats
        degree = prog[bar % len(prog)]
        tones = chord_tones(key, scale, degree)
        root = 36 + (tones[0] % 12)
        last_bar_of_phrase = (bar + 1) % fill_every == 0
        # Drums: kick on 1 (and 3), snare on the backbeat, hats on eighths; a fill ends each phrase.
        for b in range(beats):
            t = t0 + b
            if b == 0 or (beats == 4 and b == 2) or (not waltz and rng.random() < 0.15):
                note(drums, 9, 36, t, 0.25, 110 if b == 0 else 96)
            if (beats == 4 and b in (1, 3)) or (waltz and b in (1, 2)):
                note(drums, 9, 38, t, 0.25, 100 if beats == 4 else 70)
            note(drums, 9, hat, t, 0.25, 80 if b % 2 == 0 else 64)
            note(drums, 9, hat, t + off, 0.25, 56)
        if last_bar_of_phrase:
            for k in range(4):
                note(drums, 9, [50, 48, 45, 41][k], t0 + beats - 1 + k * 0.25, 0.25, 90 + 5 * k)
        if bar % 8 == 0:
            note(drums, 9, 49, t0, 0.5, 100)
        # Bass: root on 1, fifth or walk on the other beats.
        for b in range(beats):
            if swing:
                p = root + [0, 4 if not minor else 3, 7, 9][b % 4] if b else root
            else:
                p = root if b % 2 == 0 else root + (7 if rng.random() < 0.6 else 12)
            note(bass, 1, p, t0 + b, 0.9 if swing else 0.45, 96 if b == 0 else 84)
            if not swing and not waltz and rng.random() < 0.3:
                note(bass, 1, root + 12, t0 + b + 0.5, 0.45, 70)
        # Guitar: strummed chord on a pattern (down-beats and upbeats).
        voicing = sorted({52 + (t % 12) for t in tones[:3]} | {64 + (tones[0] % 12)})
        pattern = [0, 1, 1.5, 2.5, 3] if beats == 4 else [0, 1, 2]
        for i, p0 in enumerate(pattern):
            for k, p in enumerate(voicing):
                note(guitar, 2, p, t0 + p0 + 0.02 * k * 0, 0.45, 76 - 6 * (i % 2))
        # Keys: a held voicing, re-struck at half bar, or an arpeggio.
        kv = [60 + (t % 12) for t in tones]
        if rng.random() < 0.5:
            for half in range(2 if beats == 4 else 1):
                for p in kv[:3 + (1 if swing else 0)]:
                    note(keys, 0, p, t0 + half * 2, 2.0 if beats == 4 else 3.0, 64)
        else:
            for k in range(beats * 2):
                note(keys, 0, kv[k % len(kv)] + (12 if k >= 4 else 0), t0 + k * 0.5, 0.5, 60)
        # Lead: a chord-tone melody, stepwise, resting at phrase ends.
        if has_lead and not last_bar_of_phrase:
            t = 0.0
            while t < beats:
                length = rng.choice([0.5, 0.5, 1.0, 1.0, 1.5]) if t + 1.5 <= beats else beats - t
                targets = [p for p in range(key + 62, key + 86) if (p - key) % 12 in [s % 12 for s in (tones if t == 0 else [key + d for d in scale])]]
                melody_pitch = min(targets, key=lambda p: abs(p - melody_pitch) + rng.random() * 4)
                note(lead, 3, melody_pitch, t0 + t, length * 0.9, 90 + rng.randrange(-10, 10))
                t += length
    tempo = round(60_000_000 / bpm)
    conductor = [
        (0, 0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
        (0, 1, bytes([0xFF, 0x58, 0x04, beats, 2, 24, 8])),
    ]
    tracks = [track(conductor)]
    for channel, events in ((9, drums), (1, bass), (2, guitar), (0, keys), (3, lead)):
        if not events:
            continue
        if channel != 9:
            events.append((0, 1, bytes([0xC0 | channel, programs[channel]])))
        tracks.append(track(events))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), TPQ)
    return f"{style}-{'waltz-' if waltz else ''}{bpm}bpm", header + b"".join(tracks)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--pieces", type=int, default=24)
    ap.add_argument("--bars", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    for i in range(a.pieces):
        name, data = piece(rng, a.bars)
        with open(os.path.join(a.out, f"band-{i + 1:02d}-{name}.mid"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
