"""PyJWT interop for Usher tokens.

Usage:
  python3 pyjwt_interop.py sign <base64 pem> <kid> <video id>
      Mint a token with PyJWT from the base64 PKCS#1 PEM of POST /stream/keys; exp is
      time.time() + 3600, a float, as careless callers pass it (RFC 7519 allows it).
  python3 pyjwt_interop.py verify <public jwk json> <token>
      Verify an Usher token with PyJWT from the public JWK; print its claims as JSON.
"""
import base64
import json
import sys
import time

import jwt
from jwt.algorithms import RSAAlgorithm


def main() -> None:
    mode = sys.argv[1]
    if mode == "sign":
        pem = base64.b64decode(sys.argv[2])
        kid, video = sys.argv[3], sys.argv[4]
        claims = {"sub": video, "kid": kid, "exp": time.time() + 3600, "downloadable": True}
        print(jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid}))
    elif mode == "verify":
        key = RSAAlgorithm.from_jwk(sys.argv[2])
        claims = jwt.decode(sys.argv[3], key, algorithms=["RS256"])
        print(json.dumps(claims))
    else:
        sys.exit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
