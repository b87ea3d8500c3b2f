// Verifies Usher-minted tokens with WebCrypto, using only the public members of the
// key (kty, n, e), as a third-party verifier (a Worker, a browser) would.
//
// Usage: node webcrypto_verify.mjs <public jwk json> <token>...
// Prints one JSON line per token: {"valid": bool, "header": {...}, "payload": {...}}.

const [publicJwkJson, ...tokens] = process.argv.slice(2)
const { kty, n, e } = JSON.parse(publicJwkJson)

function base64UrlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/')
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
}

async function main() {
  const key = await crypto.subtle.importKey(
    'jwk', { kty, n, e },
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    false, ['verify'],
  )
  for (const token of tokens) {
    const [header, payload, signature] = token.split('.')
    const valid = await crypto.subtle.verify(
      { name: 'RSASSA-PKCS1-v1_5' }, key,
      base64UrlDecode(signature),
      new TextEncoder().encode(`${header}.${payload}`),
    )
    const decode = (part) => JSON.parse(new TextDecoder().decode(base64UrlDecode(part)))
    console.log(JSON.stringify({ valid, header: decode(header), payload: decode(payload) }))
  }
}

main().catch((err) => { console.error(err); process.exit(1) })
