#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ with valid inputs built from the frozen known answers.

The targets' fixed keys are those of protocol/src/known_answers.rs (identity
seed 0x01, check-in key seeds 0x02 and 0x03, K_tr of 0x77 bytes, server key
file of 0x99 bytes), so these seeds pass every check and the fuzzer starts
from the accepting paths instead of having to find the labels first.

    python3 -m pip install cryptography   # once
    python3 fuzz/seed_corpus.py
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "protocol" / "tests" / "data"))
sys.dont_write_bytecode = True
import check_known_answers_v2 as kat  # noqa: E402


def main() -> None:
    v = {k: bytes.fromhex(x) for k, x in kat.compute().items() if k not in ("request.signature", "server.id")}
    ph = v["heartbeat.public"]
    seeds = {
        ("heartbeat", "ph"): ph,
        ("registration", "sealed"): b"\0" + v["registration.sealed"],
        ("registration", "signed"): b"\1" + v["registration.signed"],
        ("key_rotation", "signed"): v["rotation.signed"],
        ("request", "encoding"): v["request.encoding"],
        ("server_seal", "ctx"): b"\3ctx" + v["server.sealed"],
    }
    for mode, n in (("normal", 2), ("duress", 3)):
        seeds[("proof", "wire-" + mode)] = b"\0" + ph + v["heartbeat.proof." + mode]
        inner = kat.pk(kat.key(n)) + kat.key(n).sign(kat.head("aman/v2/mode-proof") + ph)
        seeds[("proof", "inner-" + mode)] = b"\1" + ph + inner
    for (target, name), data in seeds.items():
        path = HERE / "corpus" / target
        path.mkdir(parents=True, exist_ok=True)
        (path / f"seed-{name}").write_bytes(data)
        print(f"corpus/{target}/seed-{name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
