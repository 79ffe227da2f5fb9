// Page: opens player.html with no stream chosen and reports what rendered.
// Usage: node page.mjs --base URL
// Prints {hlsVersion, supported, status, labelledInputs, ...}.
import { args, withPlayer, events } from './lib.mjs';

const a = args(['base']);

await withPlayer(a.base, {}, async (page) => {
  await page.waitForFunction(() => window.vigilPlayer, null, { timeout: 10000 });
  const r = await page.evaluate(() => ({
    hlsVersion: window.Hls ? Hls.version : '',
    supported: !!(window.Hls && Hls.isSupported()),
    status: document.getElementById('status').textContent,
    labelledInputs: [...document.querySelectorAll('input')].filter((i) => i.labels.length > 0).length,
  }));
  const log = await events(page);
  return { ...r, cspViolations: log.filter((e) => e.type === 'csp-violation') };
});
