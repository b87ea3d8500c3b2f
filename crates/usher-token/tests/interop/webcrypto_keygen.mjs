// Generates an RS256 key pair with WebCrypto and prints its private JWK (with a kid
// added, as Usher requires one) and its SubjectPublicKeyInfo, so Usher's importers are
// tested on keys that Usher did not write itself.
//
// Usage: node webcrypto_keygen.mjs <kid>
// Prints {"jwk": {...}, "spki": "<base64>"}.

async function main() {
  const pair = await crypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    true, ['sign', 'verify'],
  )
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey)
  jwk.kid = process.argv[2]
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', pair.publicKey)).toString('base64')
  console.log(JSON.stringify({ jwk, spki }))
}

main().catch((err) => { console.error(err); process.exit(1) })
