// First load of the dashboard in Debian's Chromium (headless, playwright-core): from
// navigation start to the library rendered with the account's videos (the app's own
// `usher-library-rendered` mark), cold (a new browser context: nothing cached) and warm
// (a reload, assets cached), RUNS times each. Prints one JSON object.
//
//   node bench/dashboard-load.mjs URL ACCOUNT TOKEN RUNS
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [url, account, token, runs] = process.argv.slice(2);
const executablePath = execFileSync('which', ['chromium']).toString().trim();
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
const rendered = (page) =>
  page.waitForFunction(() => {
    const m = performance.getEntriesByName('usher-library-rendered')[0];
    return m ? m.startTime : null;
  }, null, { timeout: 60000 }).then((h) => h.jsonValue());

const out = { cold: [], warm: [], transferred: 0 };
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(({ account, token }) => {
    sessionStorage.setItem('usher.dashboard.session', JSON.stringify({ account, token }));
  }, { account, token });
  const page = await context.newPage();
  let bytes = 0;
  page.on('response', async (r) => {
    const len = Number((await r.allHeaders())['content-length'] || 0);
    bytes += len;
  });
  await page.goto(url);
  out.cold.push(Math.round(await rendered(page)));
  out.transferred = bytes;
  await page.reload();
  out.warm.push(Math.round(await rendered(page)));
  await context.close();
}
await browser.close();
console.log(JSON.stringify(out));
