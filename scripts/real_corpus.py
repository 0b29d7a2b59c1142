#!/usr/bin/env python3
"""Small corpora of real music for Cantor's benchmarks, written as MIDI from music21's corpus.

    python3 scripts/real_corpus.py OUT_DIR

installs music21 10.5.1 (pinned) into a cached virtual environment ($HOME/.cache/cantor-m21) the
first time, then writes OUT_DIR/<corpus>/*.mid and OUT_DIR/LICENSES.tsv. Nothing it writes is
committed or shipped: the compositions are public domain (their composers died before 1900, the
folk tunes are traditional), but the *encodings* are distributed with music21 "with the permission
of the encoders" and some may not be used commercially (music21/corpus/license.txt), so they serve
local measurement only. LICENSES.tsv records, per file, the work, its composer, the encoding's
source and its terms.

Corpora (each a folder, so a folder name is also the style tag Cantor gives the files):
  quartets/  10 string-quartet movements (Beethoven op. 18 no. 1 and op. 59 no. 1, Haydn op. 74
             no. 1 mvt. 1-2): four instruments, two of them violins on the same General MIDI program
  piano/     3 keyboard pieces (Mozart K. 545 mvt. 1, Joplin's Maple Leaf Rag, a Chopin mazurka, or
             C. P. E. Bach's H. 186 where the mazurka does not convert)
  folk/      30 reels and strathspeys from Ryan's Mammoth Collection (1883), melody alone
  band/      10 General MIDI band pieces with drums from Debian's openttd-openmsx (OpenMSX, GPL-2.0,
             "(c) 2010 various authors"; fetched with `apt-get download`, copied unchanged)
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

VENV = Path(os.environ.get("HOME", "/root")) / ".cache" / "cantor-m21"
MUSIC21 = "music21==10.5.1"

CORPORA = {
    "quartets": [
        ("beethoven/opus18no1/movement1.mxl", "Beethoven", "String Quartet op. 18 no. 1, i"),
        ("beethoven/opus18no1/movement2.mxl", "Beethoven", "String Quartet op. 18 no. 1, ii"),
        ("beethoven/opus18no1/movement3.mxl", "Beethoven", "String Quartet op. 18 no. 1, iii"),
        ("beethoven/opus18no1/movement4.mxl", "Beethoven", "String Quartet op. 18 no. 1, iv"),
        ("beethoven/opus59no1/movement1.mxl", "Beethoven", "String Quartet op. 59 no. 1, i"),
        ("beethoven/opus59no1/movement2.mxl", "Beethoven", "String Quartet op. 59 no. 1, ii"),
        ("beethoven/opus59no1/movement3.mxl", "Beethoven", "String Quartet op. 59 no. 1, iii"),
        ("beethoven/opus59no1/movement4.mxl", "Beethoven", "String Quartet op. 59 no. 1, iv"),
        ("haydn/opus74no1/movement1.mxl", "Haydn", "String Quartet op. 74 no. 1, i"),
        ("haydn/opus74no1/movement2.mxl", "Haydn", "String Quartet op. 74 no. 1, ii"),
    ],
    "piano": [
        ("mozart/k545/movement1_exposition.mxl", "Mozart", "Piano Sonata K. 545, i (exposition)"),
        ("joplin/maple_leaf_rag.mxl", "Joplin", "Maple Leaf Rag"),
        ("chopin/mazurka06-2.krn", "Chopin", "Mazurka op. 6 no. 2"),
        # Taken when one above does not convert (the mazurka's repeats do not expand in music21).
        ("cpebach/h186.mxl", "C. P. E. Bach", "H. 186"),
    ],
}
FOLK_TUNES = 30
VERSION = 2  # bump when the conversion changes: the corpus is written again


def ensure_music21():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    ok = subprocess.run([str(python), "-c", "import music21"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([str(python), "-m", "pip", "install", "-q", MUSIC21], check=True)
    return python


def convert(out: Path):
    import music21
    from music21 import corpus

    root = Path(music21.__file__).parent / "corpus"
    stamp = out / "VERSION"
    if not stamp.exists() or stamp.read_text().strip() != str(VERSION):
        for old in out.glob("*/*.mid"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(f"{VERSION}\n")
    rows = []
    jobs = [(name, rel, who, title) for name, items in CORPORA.items() for rel, who, title in items]
    folk = sorted((root / "ryansMammoth").glob("*.abc"))
    jobs += [("folk", str(p.relative_to(root)), "traditional", p.stem) for p in folk]
    made = {}
    for name, rel, who, title in jobs:
        if made.get(name, 0) >= {"piano": 3, "folk": FOLK_TUNES}.get(name, 1 << 30):
            continue
        target = out / name / (Path(rel).stem if name == "folk" else rel.replace("/", "_").rsplit(".", 1)[0])
        target = target.with_suffix(".mid")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            try:
                score = corpus.parse(rel)
                # Grace notes have no length in music21; its MIDI writer gives them a note-off at
                # their note-on's tick, which readers pair with the next note of that pitch, so a
                # note seems to sound for minutes. Left out, the parts keep their real lengths.
                for grace in [n for n in score.recurse().notes if n.duration.isGrace or n.quarterLength == 0]:
                    grace.activeSite.remove(grace)
                score.write("midi", fp=str(target))  # plays the written repeats, as a musician would
            except Exception as e:  # music21 cannot read or expand this encoding: say so, go on
                print(f"skipped {rel}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
                target.unlink(missing_ok=True)
                continue
        made[name] = made.get(name, 0) + 1
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        terms = ("music21 10.5.1 corpus (encoders' permission; some encodings non-commercial: "
                 "music21/corpus/license.txt); local measurement only, not shipped")
        rows.append("\t".join([f"{name}/{target.name}", who, title, "public domain (work)", f"music21:{rel}", terms, digest]))
        print(f"{name}/{target.name}", flush=True)
    band(out, rows)
    (out / "LICENSES.tsv").write_text("file\tcomposer\twork\twork licence\tencoding\tencoding terms\tsha256\n" + "\n".join(rows) + "\n")


def band(out: Path, rows: list):
    """OpenMSX's General MIDI pieces (GPL-2.0): the first ten, by name, that have drums."""
    import shutil
    import tempfile
    folder = out / "band"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if subprocess.run(["apt-get", "download", "openttd-openmsx"], cwd=tmp, capture_output=True).returncode != 0:
            print("skipped band/: apt-get download openttd-openmsx failed", file=sys.stderr)
            return
        deb = next(Path(tmp).glob("openttd-openmsx_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        files = sorted((Path(tmp) / "x").rglob("*.mid"))
        kept = 0
        for f in files:
            data = f.read_bytes()
            if b"\xb9" not in data and b"\x99" not in data:  # no event on channel 10: no drums
                continue
            target = folder / f.name
            shutil.copyfile(f, target)
            digest = hashlib.sha256(data).hexdigest()
            rows.append("\t".join([f"band/{f.name}", "OpenMSX authors", f.stem, "GPL-2.0", f"Debian {deb.name}",
                                    "GPL-2.0 (debian/copyright); local measurement only, not shipped", digest]))
            kept += 1
            if kept == 10:
                break


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]).resolve()
    try:
        import music21  # noqa: F401
    except ImportError:
        python = ensure_music21()
        os.execv(str(python), [str(python), __file__, str(out)])
    convert(out)


if __name__ == "__main__":
    main()
