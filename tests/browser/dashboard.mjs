// Drives Debian's Chromium (headless, through playwright-core from web/node_modules)
// through Usher's dashboard as a person would — everything found by its label or role —
// and prints what it saw as one JSON object on stdout. The Rust e2e test
// (crates/usher/tests/e2e/dashboard.rs) starts the servers, writes the plan to stdin and
// asserts on the report; this script only acts and observes.
//
// Plan: {
//   chromium: "/usr/bin/chromium",
//   deadlineMs: patience per step,
//   dashboard: "http://127.0.0.1:P/dashboard",
//   account, token,                       // the account's id and API token
//   clip: "/tmp/…/dashboard-clip.mp4",     // uploaded through "Upload video"
//   resumeClip: "/tmp/…/big.mp4",          // paused part way, the page reloaded, resumed
//   throttleBps: 262144,                   // its upload speed until paused
//   caption: "/tmp/…/en.vtt",
//   embedSite: "http://localhost:P2/embed", // another origin that embeds the player
//   allowIp: "127.0.0.1",                  // the embed's access rule
//   screenshots: "/…/test-artifacts",      // dashboard-*.png
//   loads: 3,                              // first-load measurements of each kind
// }
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const POLL_MS = 250;

function log(...args) {
  console.error('[dashboard.mjs]', ...args);
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Polls `probe` until it returns a truthy value or the deadline passes. */
async function until(what, deadlineMs, probe) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = String(e.message || e).split('\n')[0];
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

// What the embedded player shows (see player.mjs), null until it is there.
async function lookPlayer(page) {
  const frame = page.frames().find((f) => f.name() === 'player');
  if (!frame) return null;
  return frame.evaluate(() => {
    const v = document.getElementById('usher-video');
    return {
      url: location.href,
      state: document.documentElement.dataset.state || null,
      status: document.documentElement.dataset.status || null,
      currentTime: v ? v.currentTime : null,
    };
  });
}

async function storage(page) {
  return page.evaluate(() => {
    const dump = (s) => Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)]));
    return { local: dump(localStorage), session: dump(sessionStorage), cookie: document.cookie };
  });
}

async function main() {
  const plan = await readStdin();
  const T = plan.deadlineMs;
  const shot = (page, name) => page.screenshot({ path: path.join(plan.screenshots, `dashboard-${name}.png`), fullPage: true });
  const report = { steps: [], requests: [], failed: [], console: [], loads: { cold: [], warm: [] } };
  const browser = await chromium.launch({
    executablePath: plan.chromium,
    headless: true,
    timeout: T,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--autoplay-policy=no-user-gesture-required',
      '--no-proxy-server',
      '--mute-audio',
    ],
  });
  report.chromium = browser.version();
  const watch = (context) => {
    context.on('request', (r) => report.requests.push(r.url()));
    context.on('response', (r) => {
      if (r.status() >= 400) report.failed.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    context.on('page', (p) => p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') report.console.push(m.text());
    }));
  };
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  watch(context);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') report.console.push(m.text());
  });
  page.on('pageerror', (e) => report.console.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(T);

  const step = async (name, fn) => {
    const started = Date.now();
    const s = { name };
    report.steps.push(s);
    try {
      Object.assign(s, (await fn()) || {});
    } catch (e) {
      s.error = String(e.stack || e);
      throw e;
    } finally {
      s.ms = Date.now() - started;
      log(`${name}: ${s.ms} ms${s.error ? ' error' : ''}`);
    }
  };
  const clipName = path.basename(plan.clip);
  const row = () => page.getByRole('row').filter({ hasText: clipName });

  try {
    await step('wrong token', async () => {
      await page.goto(plan.dashboard);
      await page.getByLabel('Account ID', { exact: true }).fill(plan.account);
      await page.getByLabel('API token', { exact: true }).fill(`${plan.token}x`);
      await shot(page, 'signin');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      return { message: (await alert.innerText()).trim(), stored: await storage(page) };
    });

    await step('sign in', async () => {
      await page.getByLabel('API token', { exact: true }).fill(plan.token);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Videos', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
      return { stored: await storage(page) };
    });

    await step('upload', async () => {
      await page.getByLabel('Upload video', { exact: true }).setInputFiles(plan.clip);
      await row().waitFor();
      const seen = [];
      const state = await until('the uploaded video to be ready', T * 2, async () => {
        const text = (await row().locator('.state-name').innerText()).trim();
        if (seen[seen.length - 1] !== text) seen.push(text);
        return text === 'ready' || text === 'error' ? text : null;
      });
      // The thumbnail of a ready public video loads from the edge.
      await until('the thumbnail', T, () => row().locator('img.thumb').evaluate((i) => i.complete && i.naturalWidth > 0));
      await shot(page, 'library');
      return { state, seen, stored: await storage(page) };
    });

    await step('resume after reload', async () => {
      // Slow the upload down so that it can be paused part way, as on a bad connection.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      const throttle = (bps) => cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bps,
      });
      await throttle(plan.throttleBps);
      const name = path.basename(plan.resumeClip);
      const upload = page.locator(`li.upload[data-name="${name}"]`);
      await page.getByLabel('Upload video', { exact: true }).setInputFiles(plan.resumeClip);
      const bar = page.getByRole('progressbar', { name: `Uploading ${name}` });
      const pausedAt = await until('part of the upload', T, async () => {
        const v = Number(await bar.getAttribute('value'));
        return v > 10 ? v : null;
      });
      await page.getByRole('button', { name: 'Pause', exact: true }).click();
      await upload.getByText('(paused)').waitFor();
      const stored = await storage(page);
      await throttle(-1);
      await cdp.detach();
      await page.reload();
      const note = page.getByText('interrupted', { exact: false });
      await note.waitFor();
      const noteText = (await note.innerText()).trim();
      await page.getByLabel('Upload video', { exact: true }).setInputFiles(plan.resumeClip);
      await page.locator(`li.upload-done[data-name="${name}"]`).waitFor();
      return {
        pausedAt,
        note: noteText,
        resumed: (await upload.getAttribute('data-resumed')) === 'true',
        tusEntries: Object.entries(stored.local).filter(([k]) => k.startsWith('tus::')),
        stored,
        afterwards: await storage(page),
      };
    });

    await step('search', async () => {
      await page.getByLabel('Search', { exact: true }).fill('no such video');
      await until('the search to empty the list', T, async () => (await row().count()) === 0);
      await page.getByLabel('Search', { exact: true }).fill(clipName.slice(0, 8));
      await row().waitFor();
      return {};
    });

    await step('first load', async () => {
      for (let i = 0; i < plan.loads; i++) {
        await page.reload();
        const ms = await until('the library to render', T, () => page.evaluate(() => {
          const m = performance.getEntriesByName('usher-library-rendered')[0];
          return m ? m.startTime : null;
        }));
        report.loads.warm.push(Math.round(ms));
      }
      for (let i = 0; i < plan.loads; i++) {
        const cold = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        watch(cold);
        await cold.addInitScript(({ account, token }) => {
          sessionStorage.setItem('usher.dashboard.session', JSON.stringify({ account, token }));
        }, { account: plan.account, token: plan.token });
        const p = await cold.newPage();
        await p.goto(plan.dashboard);
        const ms = await until('the library to render', T, () => p.evaluate(() => {
          const m = performance.getEntriesByName('usher-library-rendered')[0];
          return m ? m.startTime : null;
        }));
        report.loads.cold.push(Math.round(ms));
        await cold.close();
      }
      return {};
    });

    await step('video page', async () => {
      const uid = await row().getAttribute('data-uid');
      await row().getByRole('link', { name: clipName }).click();
      await page.getByRole('heading', { name: clipName, exact: true }).waitFor();
      const player = page.locator('iframe[title^="Player"]');
      await player.waitFor();
      const publicSrc = await player.getAttribute('src');
      const box = page.getByLabel('Require signed URLs', { exact: true });
      await box.check();
      await page.getByRole('button', { name: 'Save settings', exact: true }).click();
      await page.getByText('Settings saved', { exact: true }).waitFor();
      // The player now plays by a token.
      const signedSrc = await until('the player to be signed', T, async () => {
        const s = await player.getAttribute('src').catch(() => null);
        return s && s !== publicSrc ? s : null;
      });
      return {
        uid,
        publicSrc,
        signedSrc,
        checked: await box.isChecked(),
        originsField: await page.getByLabel('Allowed origins', { exact: true }).count(),
        facts: (await page.locator('.facts').innerText()).trim(),
      };
    });

    await step('caption', async () => {
      await page.getByLabel('Caption language', { exact: true }).fill('en');
      await page.getByLabel('Caption file (.vtt or .srt)', { exact: true }).setInputFiles(plan.caption);
      await page.getByRole('button', { name: 'Upload caption', exact: true }).click();
      const list = page.getByRole('list', { name: 'Captions' });
      await list.getByText('en', { exact: true }).waitFor();
      return { captions: (await list.innerText()).trim() };
    });

    let embedSrc;
    await step('embed', async () => {
      await page.getByRole('button', { name: 'Add rule', exact: true }).click();
      await page.getByLabel('Rule 1 IP addresses or ranges', { exact: true }).fill(plan.allowIp);
      await page.getByLabel('Rule 1 action', { exact: true }).selectOption('allow');
      await page.getByRole('button', { name: 'Add rule', exact: true }).click();
      await page.getByLabel('Rule 2 matches', { exact: true }).selectOption('any');
      await page.getByLabel('Rule 2 action', { exact: true }).selectOption('block');
      await page.getByLabel('Expires in (minutes)', { exact: true }).fill('30');
      await page.getByRole('button', { name: 'Create signed embed code', exact: true }).click();
      const verdict = page.locator('.verdict');
      await verdict.waitFor();
      const code = await page.getByRole('textbox', { name: 'Embed code', exact: true }).inputValue();
      embedSrc = (code.match(/src="([^"]+)"/) || [])[1];
      await page.getByRole('button', { name: 'Copy token', exact: true }).click();
      await page.getByText('Copied', { exact: true }).first().waitFor();
      // The top of the page as a person first sees it (the whole page is long).
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(plan.screenshots, 'dashboard-video.png') });
      await page.locator('.embed').screenshot({ path: path.join(plan.screenshots, 'dashboard-embed.png') });
      return {
        code,
        src: embedSrc,
        verdict: (await verdict.locator('.verdict-line').innerText()).trim(),
        allowed: await verdict.evaluate((v) => v.classList.contains('allowed')),
      };
    });

    await step('play embed elsewhere', async () => {
      const other = await context.newPage();
      const src = `${embedSrc}?autoplay=true&muted=true`;
      await other.goto(`${plan.embedSite}?name=player&src=${encodeURIComponent(src)}`);
      const seen = await until('the embedded player to play', T, async () => {
        const s = await lookPlayer(other);
        return s && s.state === 'playing' && s.currentTime > 1.5 ? s : null;
      });
      await other.screenshot({ path: path.join(plan.screenshots, 'dashboard-embedded.png') });
      await other.close();
      return { seen, page: plan.embedSite };
    });

    await step('signing key', async () => {
      await page.getByRole('link', { name: 'Signing keys', exact: true }).click();
      await page.getByRole('heading', { name: 'Signing keys', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Create signing key', exact: true }).click();
      const pem = page.getByLabel('Private key (PEM, base64)', { exact: true });
      await until('the private key', T, async () => (await pem.inputValue()).length > 100);
      const heading = (await page.getByRole('heading', { name: /^New key / }).innerText()).trim();
      const id = heading.replace('New key ', '');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Download key', exact: true }).click(),
      ]);
      const saved = path.join(plan.screenshots, 'dashboard-key-download.json');
      await download.saveAs(saved);
      await shot(page, 'keys');
      const listed = await page.getByRole('list', { name: 'Signing keys' }).getByText(id).count();
      await page.getByRole('button', { name: `Revoke key ${id}`, exact: true }).click();
      await page.getByRole('button', { name: 'Revoke', exact: true }).click();
      await page.getByText(`Key ${id} revoked`, { exact: true }).waitFor();
      const after = await page.locator(`[data-key="${id}"]`).count();
      return { id, listed, after, download: download.suggestedFilename(), saved };
    });

    await step('webhooks', async () => {
      await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
      await page.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor();
      await page.getByText('No webhook is set.').waitFor();
      // A loopback address is refused by the API; its message shows.
      await page.getByLabel('Notification URL', { exact: true }).fill('http://127.0.0.1:9/hook');
      await page.getByRole('button', { name: 'Set webhook', exact: true }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      await shot(page, 'webhooks');
      return { refusal: (await alert.innerText()).trim() };
    });

    await step('live input', async () => {
      await page.getByRole('link', { name: 'Live inputs', exact: true }).click();
      await page.getByLabel('Name', { exact: true }).fill('Main stage');
      await page.getByRole('button', { name: 'Create live input', exact: true }).click();
      await page.getByRole('heading', { name: 'Main stage', exact: true }).waitFor();
      const key = page.getByLabel('Stream key', { exact: true });
      const before = await key.inputValue();
      await page.getByRole('button', { name: 'Rotate stream key', exact: true }).click();
      await page.getByRole('button', { name: 'Rotate', exact: true }).click();
      const after = await until('a new stream key', T, async () => {
        const v = await key.inputValue();
        return v && v !== before ? v : null;
      });
      // The viewer count comes from the edge's public `/{uid}/views`.
      const viewers = await until('the viewer count', T, async () => {
        const v = (await page.locator('.facts dt:text-is("Viewers") + dd').innerText()).trim();
        return /^\d+$/.test(v) ? v : null;
      });
      await shot(page, 'live');
      return {
        viewers,
        rtmp: await page.getByLabel('RTMP URL', { exact: true }).inputValue(),
        srt: await page.getByLabel('SRT URL', { exact: true }).inputValue(),
        rotated: before.length > 0 && after !== before,
        connection: (await page.locator('.facts').innerText()).includes('disconnected'),
      };
    });

    await step('analytics', async () => {
      await page.getByRole('link', { name: 'Analytics', exact: true }).click();
      await page.getByRole('heading', { name: 'Analytics', exact: true }).waitFor();
      const videoRow = page.locator('table.per-video tbody tr').filter({ hasText: clipName });
      // The edges flush every few seconds: ask again until the view is in. (The row may
      // be there before it, with the thumbnail's bytes.)
      const views = await until('the view to be counted', T, async () => {
        const n = (await videoRow.count()) === 0
          ? 0 : Number((await videoRow.locator('td.views').innerText()).trim());
        if (n >= 1) return n;
        await page.getByRole('button', { name: 'Refresh', exact: true }).click();
        return null;
      });
      await page.locator('.chart canvas').first().waitFor();
      await shot(page, 'analytics');
      return {
        views,
        row: (await videoRow.innerText()).trim(),
        totals: (await page.locator('.totals').innerText()).trim(),
      };
    });

    await step('keyboard', async () => {
      await page.goto(`${plan.dashboard}#/`);
      await page.reload();
      await page.getByRole('heading', { name: 'Videos', exact: true }).waitFor();
      const focused = [];
      for (let i = 0; i < 4; i++) {
        await page.keyboard.press('Tab');
        focused.push(await page.evaluate(() => {
          const el = document.activeElement;
          return {
            tag: el.tagName.toLowerCase(),
            text: (el.innerText || el.getAttribute('aria-label') || '').trim(),
            outline: getComputedStyle(el).outlineStyle,
          };
        }));
      }
      // Enter on the focused nav link follows it.
      await page.keyboard.press('Enter');
      return { focused, hash: await page.evaluate(() => location.hash) };
    });

    await step('phone width', async () => {
      await page.setViewportSize({ width: 375, height: 800 });
      await page.goto(`${plan.dashboard}#/`);
      await row().waitFor();
      await shot(page, 'mobile');
      const widths = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      await page.setViewportSize({ width: 1280, height: 900 });
      return widths;
    });

    await step('sign out', async () => {
      report.storageBeforeSignOut = await storage(page);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      return { stored: await storage(page) };
    });
  } catch (e) {
    report.error = String(e.stack || e);
  } finally {
    await browser.close().catch(() => {});
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
