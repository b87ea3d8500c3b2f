// Self-signs a Usher (Cloudflare Stream) token offline with WebCrypto — the Worker
// example from Cloudflare's "Secure your Stream" page, line for line, run by Node 20+.
//
//   KEY_ID=… JWK=… VIDEO_UID=… node examples/sign-token-webcrypto.mjs
//
// KEY_ID and JWK are the `id` and `jwk` fields of `POST …/stream/keys` (JWK still
// base64-encoded, as the API returns it). The token allows viewers in GB only, for an hour.

// Global variables
const jwkKey = process.env.JWK;
const keyID = process.env.KEY_ID;
const videoUID = process.env.VIDEO_UID;
// expiresTimeInS is the expired time in second of the video
const expiresTimeInS = 3600;

// Main function
async function streamSignedUrl() {
  const encoder = new TextEncoder();
  const expiresIn = Math.floor(Date.now() / 1000) + expiresTimeInS;
  const headers = {
    alg: "RS256",
    kid: keyID,
  };
  const data = {
    sub: videoUID,
    kid: keyID,
    exp: expiresIn,
    accessRules: [
      {
        type: "ip.geoip.country",
        action: "allow",
        country: ["GB"],
      },
      {
        type: "any",
        action: "block",
      },
    ],
  };

  const token = `${objectToBase64url(headers)}.${objectToBase64url(data)}`;

  const jwk = JSON.parse(atob(jwkKey));

  const key = await crypto.subtle.importKey(
    "jwk",
    jwk,
    {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
    },
    false,
    ["sign"],
  );

  const signature = await crypto.subtle.sign(
    { name: "RSASSA-PKCS1-v1_5" },
    key,
    encoder.encode(token),
  );

  const signedToken = `${token}.${arrayBufferToBase64Url(signature)}`;

  return signedToken;
}

// Utilities functions
function arrayBufferToBase64Url(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/=/g, "")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

function objectToBase64url(payload) {
  return arrayBufferToBase64Url(
    new TextEncoder().encode(JSON.stringify(payload)),
  );
}

if (!jwkKey || !keyID || !videoUID) {
  console.error("set KEY_ID, JWK and VIDEO_UID");
  process.exit(2);
}
console.log(await streamSignedUrl());
