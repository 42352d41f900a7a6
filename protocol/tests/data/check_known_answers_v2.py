#!/usr/bin/env python3
"""Independent check of the check-in v2 known answers in known-answers.txt.

Every value is recomputed here from the documented construction
(shared/checkin-v2.md, "The construction"; PROTOCOL.md section 2.1 for the
encoding), with the Python `cryptography` package and no Rust code. It is not
run by CI: run it by hand whenever the v2 formats or their frozen values are
touched.

    python3 -m pip install cryptography      # once (tested with 48.0.0)
    python3 protocol/tests/data/check_known_answers_v2.py

It prints one line per value and exits non-zero if any differs. It never
rewrites the frozen file.

The inputs are those of protocol/src/known_answers.rs:
  key(n)  Ed25519 key from the RFC 8032 seed of 32 bytes n (deterministic signatures)
  enc(n)  X25519 secret of 32 bytes n (clamped on use, as x25519-dalek does)
  server  key file of 32 bytes 0x99; account 16 bytes 0x11; K_tr 32 bytes 0x77
          (transport_key derives a K_tr from key(1)'s seed and the server id)
`cryptography` has no XChaCha20-Poly1305, so it is built here from HChaCha20
(draft-irtf-cfrg-xchacha-03 section 2.2) and the package's ChaCha20-Poly1305,
and checked first against the draft's test vectors (section 2.2.1 and A.3.1).
"""

import base64
import hashlib
import pathlib
import struct
import sys
import tomllib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA = pathlib.Path(__file__).resolve().parent
RAW = serialization.Encoding.Raw


# ---------------------------------------------------------------- primitives

def _rotl(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF
    s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    assert len(key) == 32 and len(nonce16) == 16
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    s += list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        _quarter(s, 0, 4, 8, 12)
        _quarter(s, 1, 5, 9, 13)
        _quarter(s, 2, 6, 10, 14)
        _quarter(s, 3, 7, 11, 15)
        _quarter(s, 0, 5, 10, 15)
        _quarter(s, 1, 6, 11, 12)
        _quarter(s, 2, 7, 8, 13)
        _quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha20poly1305_encrypt(key: bytes, nonce24: bytes, aad: bytes, msg: bytes) -> bytes:
    """ciphertext || tag."""
    assert len(nonce24) == 24
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(b"\0" * 4 + nonce24[16:], msg, aad)


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int = 32) -> bytes:
    # An empty salt is HMAC with an empty key, which RFC 5869 pads to zeros:
    # the same as the package's default salt of HashLen zero bytes.
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def var(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def head(label: str, version: int = 2) -> bytes:
    return label.encode() + b"\0" + bytes([version])


def key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32)


def pk(k: Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)


def x_secret(b: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(b)


def x_public(s: X25519PrivateKey) -> bytes:
    return s.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


# ---------------------------------------------------------------- self-test

def self_test() -> None:
    # draft-irtf-cfrg-xchacha-03 2.2.1 (HChaCha20).
    k = bytes(range(32))
    n = bytes.fromhex("000000090000004a0000000031415927")
    want = "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
    assert hchacha20(k, n).hex() == want, "HChaCha20 self-test"
    # A.3.1 (AEAD_XCHACHA20_POLY1305), from the project's vector file.
    v = tomllib.loads((DATA / "crypto-vectors.toml").read_text())["xchacha20poly1305"]
    out = xchacha20poly1305_encrypt(*(bytes.fromhex(v[f]) for f in ("key", "nonce", "aad", "plaintext")))
    assert out.hex() == v["ciphertext"] + v["tag"], "XChaCha20-Poly1305 self-test"
    # RFC 8032 7.1 TEST 1 through the Ed25519 used here.
    t1 = tomllib.loads((DATA / "crypto-vectors.toml").read_text())["ed25519"][0]
    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(t1["secret"]))
    assert sk.sign(b"").hex() == t1["signature"], "Ed25519 self-test"


# ---------------------------------------------------------------- formats

SERVER_FILE = bytes([0x99]) * 32
ACCOUNT = bytes([0x11]) * 16
K_TR = bytes([0x77]) * 32
EPHEMERAL = bytes([8]) * 32  # enc(8) = EncryptionSecret::from_bytes([8; 32])


def server():
    secret = hkdf(b"", SERVER_FILE, b"aman/v2/server-x25519")
    public = x_public(x_secret(secret))
    sid = sha256(head("aman/v2/server-id") + public)[:16]
    return secret, public, sid


def seal_to_server(server_pk: bytes, sid: bytes, context: bytes, message: bytes) -> bytes:
    e = x_secret(EPHEMERAL)
    e_pk = x_public(e)
    ss = e.exchange(X25519PublicKey.from_public_bytes(server_pk))  # raises on an all-zero result
    k = hkdf(e_pk + server_pk, ss, b"aman/v2/seal")
    aad = head("aman/v2/seal") + sid + context
    return e_pk + xchacha20poly1305_encrypt(k, b"\0" * 24, aad, message)


def compute() -> dict:
    out = {}
    secret, public, sid = server()
    out["server.x25519_secret"] = secret.hex()
    out["server.public"] = public.hex()
    out["server.id"] = sid.hex()
    out["server.sealed"] = seal_to_server(public, sid, b"ctx", b"to the server").hex()
    # K_tr for one server: HKDF-SHA256(salt = server_id, ikm = ID seed, info = "aman/v2/transport-key").
    out["transport_key"] = hkdf(sid, bytes([1]) * 32, b"aman/v2/transport-key").hex()

    hb = (
        head("aman/v2/heartbeat")
        + sid
        + ACCOUNT
        + u64(42)
        + u64(1_800_000_000)
        + u64(1_800_003_600)
        + u64(900)
        + sha256(b"sealed")
    )
    assert len(hb) == 115
    ph = hb + key(1).sign(hb)
    assert len(ph) == 179
    out["heartbeat.public"] = ph.hex()
    for mode, n in (("normal", 2), ("duress", 3)):
        sig_ck = key(n).sign(head("aman/v2/mode-proof") + ph)
        nonce = bytes([0x66]) * 24
        aad = head("aman/v2/proof-box") + sha256(ph)
        proof = nonce + xchacha20poly1305_encrypt(K_TR, nonce, aad, pk(key(n)) + sig_ck)
        assert len(proof) == 136
        out[f"heartbeat.proof.{mode}"] = proof.hex()

    reg = (
        head("aman/v2/register")
        + sid
        + ACCOUNT
        + pk(key(1))
        + pk(key(2))
        + pk(key(3))
        + K_TR
        + u64(1_800_000_000)
    )
    reg += key(1).sign(reg)
    out["registration.signed"] = reg.hex()
    out["registration.sealed"] = seal_to_server(public, sid, b"aman/v2/register", reg).hex()

    req = (
        head("aman/v2/request")
        + sid
        + var(b"POST")
        + var(b"/v1/panic")
        + sha256(b"{}")
        + bytes([0x11]) * 16
        + u64(1_800_000_000)
        + bytes([0x22]) * 16
    )
    out["request.encoding"] = req.hex()
    out["request.signature"] = b64url(key(1).sign(req))

    generation = 1

    def succession(old, new_pk: bytes) -> bytes:
        m = head("aman/v2/key-succession") + sid + ACCOUNT + u64(generation) + pk(old) + new_pk
        return pk(old) + new_pk + old.sign(m)

    # key(3) -> key(5) and key(2) -> key(4), typed in that order; encoded in
    # ascending order of the new key.
    pairs = sorted([(pk(key(5)), succession(key(3), pk(key(5)))), (pk(key(4)), succession(key(2), pk(key(4))))])
    rot = head("aman/v2/key-rotation") + sid + ACCOUNT + u64(generation) + u64(1_800_086_400)
    rot += b"".join(p for _, p in pairs)
    rot += key(1).sign(rot)
    out["rotation.signed"] = rot.hex()
    return out


def frozen() -> dict:
    values = {}
    for line in (DATA / "known-answers.txt").read_text().splitlines():
        if " = " in line and not line.startswith("#"):
            name, value = line.split(" = ", 1)
            values[name] = value.strip()
    return values


def main() -> int:
    self_test()
    want = frozen()
    bad = 0
    for name, value in compute().items():
        if name not in want:
            print(f"MISSING  {name} (not in known-answers.txt)")
            bad += 1
        elif want[name] == value:
            print(f"match    {name}")
        else:
            print(f"MISMATCH {name}\n  frozen:   {want[name]}\n  computed: {value}")
            bad += 1
    print(f"{'all values match' if not bad else f'{bad} value(s) differ'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
