"""Verifies ES256K JWS signatures with libsecp256k1 (through coincurve), which accepts only
low-S signatures, as Bitcoin-derived verifiers do. Reads JSON lines {jwk, token}; prints one
line per token: "ok" or "rejected"."""
import base64
import json
import sys

from coincurve import PublicKey
from coincurve.ecdsa import cdata_to_der, deserialize_compact


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


for line in sys.stdin:
    item = json.loads(line)
    jwk, token = item["jwk"], item["token"]
    header, payload, signature = token.split(".")
    public_key = PublicKey(b"\x04" + b64url(jwk["x"]) + b64url(jwk["y"]))
    # parse_compact accepts either S; verify rejects high S: exactly the rule under test.
    der = cdata_to_der(deserialize_compact(b64url(signature)))
    accepted = public_key.verify(der, f"{header}.{payload}".encode("ascii"))
    print("ok" if accepted else "rejected", flush=True)
