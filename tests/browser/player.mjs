// Drives Debian's Chromium (headless, through playwright-core from web/node_modules)
// through Usher's player embedded in other sites' pages, and prints what happened as
// one JSON object on stdout. The Rust e2e test (crates/usher/tests/e2e/browser.rs)
// starts the servers, writes the plan to stdin and asserts on the results; this script
// only observes, so every judgement stays in the test.
//
// Plan: {
//   chromium: "/usr/bin/chromium",
//   deadlineMs: per-case patience,
//   cases: [{
//     name,
//     frames: ["http://localhost:P3/embed", "http://localhost:P2/embed"],  // outer → inner
//     player: "http://127.0.0.1:P/{token}/iframe?autoplay=true&muted=true",
//     sign: {jwk, kid, sub, ttl},   // optional: sign {token} offline with WebCrypto
//     expect: "play" | "refuse" | "blocked" | "revoke",
//     minTime: 1.0,                 // play: seconds of playback to wait for
//     revoke: {url, bearer},        // revoke: DELETE this, then press play
//     screenshot: "/path/player.png"
//   }]
// }
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const POLL_MS = 100;

function log(...args) {
  console.error('[player.mjs]', ...args);
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// Cloudflare's Workers example for self-signed tokens (see /work/shared/reference),
// as written there: WebCrypto RSASSA-PKCS1-v1_5 / SHA-256 over a JWK from `keys`.
function arrayBufferToBase64Url(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/=/g, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

function objectToBase64url(payload) {
  return arrayBufferToBase64Url(new TextEncoder().encode(JSON.stringify(payload)));
}

async function streamSignedUrl({ jwk: jwkKey, kid: keyID, sub: videoID, ttl }) {
  const encoder = new TextEncoder();
  const expiresIn = Math.floor(Date.now() / 1000) + ttl;
  const headers = { alg: 'RS256', kid: keyID };
  const data = { sub: videoID, kid: keyID, exp: expiresIn };
  const token = `${objectToBase64url(headers)}.${objectToBase64url(data)}`;
  const jwk = JSON.parse(atob(jwkKey));
  const key = await crypto.subtle.importKey(
    'jwk',
    jwk,
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const signature = await crypto.subtle.sign(
    { name: 'RSASSA-PKCS1-v1_5' },
    key,
    encoder.encode(token),
  );
  return `${token}.${arrayBufferToBase64Url(signature)}`;
}

function pageUrl(frames, player) {
  let url = player;
  for (let i = frames.length - 1; i >= 0; i--) {
    const name = i === frames.length - 1 ? 'player' : `outer${i}`;
    url = `${frames[i]}?name=${name}&src=${encodeURIComponent(url)}`;
  }
  return url;
}

// What the player frame shows right now; null while it is not there.
async function look(page) {
  const frame = page.frames().find((f) => f.name() === 'player');
  if (!frame) return null;
  const url = frame.url();
  try {
    const seen = await frame.evaluate(() => {
      const v = document.getElementById('usher-video');
      const box = document.getElementById('usher-message');
      return {
        state: document.documentElement.dataset.state || null,
        status: document.documentElement.dataset.status || null,
        hasVideo: !!v,
        currentTime: v ? v.currentTime : null,
        paused: v ? v.paused : null,
        muted: v ? v.muted : null,
        loop: v ? v.loop : null,
        controls: v ? v.controls : null,
        poster: v ? v.poster : null,
        messageVisible: !!box && !box.hidden && box.offsetHeight > 0,
        message: box && !box.hidden ? box.innerText.trim() : '',
        text: document.body ? document.body.innerText.trim().slice(0, 500) : '',
      };
    });
    return { url, ...seen };
  } catch (e) {
    // A frame Chromium refused to render (frame-ancestors) cannot be evaluated.
    return { url, evalError: String(e.message || e).split('\n')[0] };
  }
}

async function until(deadline, check) {
  let last = null;
  while (Date.now() < deadline) {
    last = await check();
    if (last && last.done) return last;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return last;
}

async function runCase(browser, c, deadlineMs) {
  const started = Date.now();
  const deadline = started + deadlineMs;
  const result = { name: c.name, requests: [], console: [], events: [] };
  const context = await browser.newContext({ viewport: { width: 800, height: 480 } });
  const page = await context.newPage();
  page.on('console', (m) => result.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    const req = r.request();
    result.requests.push({
      url: r.url(),
      status: r.status(),
      referer: req.headers()['referer'] || null,
    });
  });
  try {
    let player = c.player;
    if (c.sign) {
      const token = await streamSignedUrl(c.sign);
      result.token = token;
      player = player.replace('{token}', token);
    }
    const url = pageUrl(c.frames, player);
    result.url = url;
    await page.goto(url, { waitUntil: 'load', timeout: deadlineMs });

    if (c.expect === 'play') {
      const seen = await until(deadline, async () => {
        const s = await look(page);
        if (s && typeof s.currentTime === 'number' && result.firstPlaying === undefined
            && s.state === 'playing') {
          result.firstPlaying = s.currentTime;
        }
        // A refusal or an error will not turn into playback: stop waiting.
        const over = s && (s.currentTime > c.minTime || s.state === 'refused' || s.state === 'error');
        return over ? { done: true, ...s } : s;
      });
      result.seen = seen;
    } else if (c.expect === 'refuse') {
      result.seen = await until(deadline, async () => {
        const s = await look(page);
        return s && s.state === 'refused' ? { done: true, ...s } : s;
      });
    } else if (c.expect === 'blocked') {
      // Chromium shows its own error page in place of a frame whose frame-ancestors
      // refuse the page above it, and says so on the console.
      result.seen = await until(deadline, async () => {
        const s = await look(page);
        const said = result.console.some((l) => l.includes('frame-ancestors'));
        return s && said ? { done: true, ...s } : s;
      });
      // Give a wrongly rendered player the time it would need to start playing.
      await new Promise((r) => setTimeout(r, 2000));
      result.after = await look(page);
    } else if (c.expect === 'revoke') {
      const ready = await until(deadline, async () => {
        const s = await look(page);
        return s && s.state === 'ready' ? { done: true, ...s } : s;
      });
      result.ready = ready;
      const resp = await fetch(c.revoke.url, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${c.revoke.bearer}` },
      });
      result.revokeStatus = resp.status;
      const frame = page.frames().find((f) => f.name() === 'player');
      await frame.evaluate(() => {
        document.getElementById('usher-video').play().catch(() => {});
      });
      result.seen = await until(deadline, async () => {
        const s = await look(page);
        return s && s.state === 'refused' ? { done: true, ...s } : s;
      });
    } else {
      throw new Error(`unknown expectation ${c.expect}`);
    }
    if (c.screenshot && result.seen && result.seen.done) {
      await page.screenshot({ path: c.screenshot });
      result.screenshot = c.screenshot;
    }
  } catch (e) {
    result.error = String(e.stack || e);
  } finally {
    result.elapsedMs = Date.now() - started;
    await context.close().catch(() => {});
  }
  return result;
}

async function main() {
  const plan = await readStdin();
  const browser = await chromium.launch({
    executablePath: plan.chromium,
    headless: true,
    timeout: plan.deadlineMs,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--autoplay-policy=no-user-gesture-required',
      '--no-proxy-server',
      '--mute-audio',
    ],
  });
  const results = [];
  try {
    log(`chromium ${browser.version()}`);
    for (const c of plan.cases) {
      const r = await runCase(browser, c, plan.deadlineMs);
      log(`${c.name}: ${r.elapsedMs} ms${r.error ? ' error' : ''}`);
      results.push(r);
    }
  } finally {
    await browser.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify({ chromium: browser.version(), results }) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
