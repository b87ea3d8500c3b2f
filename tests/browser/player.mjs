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
//     expect: "play" | "refuse" | "blocked" | "revoke" | "watch" | "offair",
//     minTime: 1.0,                 // play: seconds of playback to wait for
//     advance: 2.0,                 // play: and seconds played since it started (live)
//     // offair: a live input's player waiting for its broadcast
//     revoke: {url, bearer},        // revoke: DELETE this, then press play
//     screenshot: "/path/player.png"
//     // watch: the player (frames: [] puts it at the top, where DevTools throttling
//     // reaches it) observed through hls.js until every `until` condition holds.
//     throttle: {bps, latencyMs},   // Network.emulateNetworkConditions before loading
//     choose: [{menu: "Audio", option: "Commentary"}],  // picked in the player's menus
//     hover: true,                  // then point at the player and wait for the menus
//     until: {minTime, topLevel: true, height: 480, audioTrack: "name",
//             requested: "/t…/seg_", cues: 1},
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
        live: !!document.getElementById('usher-live')
          && !document.getElementById('usher-live').hidden,
        // Glass to glass: now against the program date time of what is on screen
        // (the packager stamps each segment with the wall clock it was cut at).
        latencyMs: window.usherPlayer && window.usherPlayer.hls && window.usherPlayer.hls.playingDate
          ? Date.now() - window.usherPlayer.hls.playingDate.getTime() : null,
        liveEdgeLatency: window.usherPlayer && window.usherPlayer.hls
          ? window.usherPlayer.hls.latency : null,
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

// The player's frame: named `player` inside embedding pages, else the page itself.
function playerFrame(page) {
  return page.frames().find((f) => f.name() === 'player') || page.mainFrame();
}

// Installed before any page script: counts stalls (`waiting` once playback has
// started) and sees every media event, as they reach the document in capture.
function recordStalls() {
  const rec = { playing: 0, stalls: [], errors: [] };
  window.usherWatch = rec;
  document.addEventListener('playing', () => { rec.playing += 1; }, true);
  document.addEventListener('waiting', (e) => {
    if (rec.playing > 0) rec.stalls.push(Math.round(e.target.currentTime * 1000) / 1000);
  }, true);
}

// hls.js as the player drives it, the menus as a viewer finds them, and the text tracks.
async function inspect(frame) {
  return frame.evaluate(() => {
    const p = window.usherPlayer;
    const rec = window.usherWatch || null;
    const v = document.getElementById('usher-video');
    if (!p || !v) return null;
    const h = p.hls;
    if (rec && !rec.hooked) {
      rec.hooked = true;
      h.on('hlsError', (_e, d) => rec.errors.push(`${d.type}/${d.details}${d.fatal ? ' fatal' : ''}`));
    }
    const level = (l) => ({ width: l.width, height: l.height, bitrate: l.bitrate, url: l.url[0] });
    const menus = Array.from(document.querySelectorAll('.usher-menus select')).map((s) => ({
      label: s.labels.length ? s.labels[0].textContent : null,
      visible: s.offsetParent !== null,
      options: Array.from(s.options).map((o) => o.text),
      selected: s.selectedOptions.length ? s.selectedOptions[0].text : null,
    }));
    return {
      state: document.documentElement.dataset.state || null,
      currentTime: v.currentTime,
      ended: v.ended,
      levels: h.levels.map(level),
      currentLevel: h.currentLevel,
      autoLevelEnabled: h.autoLevelEnabled,
      bandwidthEstimate: h.bandwidthEstimate,
      audioTracks: h.audioTracks.map((t) => ({ name: t.name, default: t.default, url: t.url })),
      audioTrack: h.audioTrack,
      subtitleTracks: h.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang })),
      subtitleTrack: h.subtitleTrack,
      textTracks: Array.from(v.textTracks).map((t) => ({
        kind: t.kind,
        label: t.label,
        language: t.language,
        mode: t.mode,
        cues: t.cues ? Array.from(t.cues).slice(0, 20).map((c) => ({
          start: c.startTime, end: c.endTime, text: c.text,
        })) : null,
      })),
      menus,
      stalls: rec ? rec.stalls : null,
      errors: rec ? rec.errors : null,
    };
  });
}

// Whether `s` (from inspect) and the requests so far satisfy every condition of `u`.
function satisfied(u, s, requests) {
  if (!s) return false;
  if (u.minTime !== undefined && !(s.currentTime > u.minTime || s.ended)) return false;
  if (u.topLevel && !(s.levels.length > 0 && s.currentLevel === s.levels.length - 1)) return false;
  if (u.height !== undefined) {
    const l = s.levels[s.currentLevel];
    if (!l || l.height !== u.height) return false;
  }
  if (u.audioTrack !== undefined) {
    const t = s.audioTracks[s.audioTrack];
    if (!t || t.name !== u.audioTrack) return false;
  }
  if (u.requested && !requests.some((r) => r.url.includes(u.requested) && r.status < 300)) {
    return false;
  }
  if (u.cues !== undefined && !s.textTracks.some((t) => t.mode === 'showing'
      && t.cues && t.cues.length >= u.cues)) {
    return false;
  }
  return true;
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
  if (c.expect === 'watch') await context.addInitScript(recordStalls);
  const page = await context.newPage();
  if (c.throttle) {
    // Chromium's DevTools network emulation: every request of this page (the player
    // is the page itself, not a cross-site frame with a process of its own).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: c.throttle.latencyMs,
      downloadThroughput: c.throttle.bps / 8,
      uploadThroughput: c.throttle.bps / 8,
    });
  }
  page.on('console', (m) => result.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    const req = r.request();
    result.requests.push({
      ms: Date.now() - started,
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
        const advanced = c.advance === undefined || (result.firstPlaying !== undefined
          && s.currentTime >= result.firstPlaying + c.advance);
        const over = s && ((s.currentTime > c.minTime && advanced)
          || s.state === 'refused' || s.state === 'error');
        return over ? { done: true, ...s } : s;
      });
      result.seen = seen;
    } else if (c.expect === 'offair') {
      result.seen = await until(deadline, async () => {
        const s = await look(page);
        return s && s.state === 'offair' ? { done: true, ...s } : s;
      });
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
    } else if (c.expect === 'watch') {
      result.levelChanges = [];
      let lastLevel = null;
      const observe = async () => {
        const s = await inspect(playerFrame(page)).catch(() => null);
        if (s && s.currentLevel !== lastLevel) {
          lastLevel = s.currentLevel;
          const l = s.levels[s.currentLevel];
          result.levelChanges.push({
            ms: Date.now() - started,
            currentTime: s.currentTime,
            level: s.currentLevel,
            height: l ? l.height : null,
            bandwidthEstimate: s.bandwidthEstimate,
          });
        }
        return s;
      };
      const over = (s) => s && (s.state === 'refused' || s.state === 'error');
      for (const pick of c.choose || []) {
        // As a viewer would: wait for playback, then use the labelled menu.
        result.beforeChoice = await until(deadline, async () => {
          const s = await observe();
          const shown = s && s.menus.some((m) => m.label === pick.menu && m.visible
            && m.options.includes(pick.option));
          return s && ((s.state === 'playing' && shown) || over(s)) ? { done: true, ...s } : s;
        });
        if (over(result.beforeChoice)) break;
        // Taken before the choice: every request from it on may be the choice's doing.
        result.chosenAtMs = Date.now() - started;
        await playerFrame(page).getByLabel(pick.menu, { exact: true })
          .selectOption({ label: pick.option }, { timeout: Math.max(1, deadline - Date.now()) });
      }
      result.seen = await until(deadline, async () => {
        const s = await observe();
        return s && (satisfied(c.until || {}, s, result.requests) || over(s))
          ? { done: true, ...s } : s;
      });
      result.satisfied = satisfied(c.until || {}, result.seen, result.requests);
      if (c.hover && result.satisfied) {
        // The menus fade out while the video plays untouched; a pointer over the
        // player brings them back (polled: they fade in).
        const frame = playerFrame(page);
        await frame.locator('#usher-video').hover({ timeout: Math.max(1, deadline - Date.now()) });
        result.menusAfterHover = await until(deadline, async () => {
          const opacity = await frame.evaluate(
            () => getComputedStyle(document.querySelector('.usher-menus')).opacity,
          );
          return opacity === '1' ? { done: true, opacity } : { opacity };
        });
      }
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
