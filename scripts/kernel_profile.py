#!/usr/bin/env python3
"""Where a GPU step's time goes: cubecl's profile log (CUBECL_DEBUG_OPTION=profile) summed per
kernel family, each kernel's first launch left out (it includes compiling the kernel).

    CUBECL_DEBUG_LOG=/tmp/prof.log CUBECL_DEBUG_OPTION=profile cantor speed --wgpu ...
    python3 scripts/kernel_profile.py /tmp/prof.log
"""
import collections
import re
import sys

UNITS = {"ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6, "s": 1e3}


def main(path):
    seen, total, launches = set(), collections.Counter(), collections.Counter()
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"^\|\s*([\d.]+)(ms|µs|us|ns|s)\s*\|\s*(.+?)\s*$", line)
        if not m:
            continue
        name = m.group(3)
        if name not in seen:
            seen.add(name)
            continue
        family = re.sub(r"_[0-9a-f]{8}$", "", name.split("|")[0].strip())
        total[family] += float(m.group(1)) * UNITS[m.group(2)]
        launches[family] += 1
    all_ms = sum(total.values()) or 1.0
    print(f"{sum(launches.values())} launches after the first of each kernel, {all_ms:.1f} ms in all")
    for family, ms in total.most_common(15):
        print(f"{family:30s} {ms:10.1f} ms {100 * ms / all_ms:5.1f} %  {launches[family]:6d} launches")


if __name__ == "__main__":
    main(sys.argv[1])
