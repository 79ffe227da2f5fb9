// Empty: what a new user sees on each page before any camera, collection or
// event exists. Usage: node empty.mjs --base URL
// Prints {pages: {wall, events, faces, settings}: text shown, command}.
import { args } from './lib.mjs';
import { openApp } from './checks.mjs';

const a = args(['base']);
const app = await openApp({ viewport: { width: 1440, height: 900 } });
const out = { pages: {} };
try {
  for (const [name, hash] of [['wall', ''], ['events', '#/events'], ['faces', '#/faces'], ['settings', '#/settings']]) {
    await app.page.goto(`${a.base}/ui/${hash}`);
    await app.page.waitForTimeout(1000);
    out.pages[name] = await app.page.locator('#view').innerText();
  }
  await app.page.goto(`${a.base}/ui/`);
  out.command = await app.page.locator('.empty pre').innerText();
} catch (e) {
  out.error = String((e && e.stack) || e);
} finally {
  out.consoleErrors = app.log.consoleErrors;
  out.pageErrors = app.log.pageErrors;
  await app.close();
}
console.log(JSON.stringify(out));
