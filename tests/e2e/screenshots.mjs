// Drives Dave's and Erin's Playground pages in headless Debian chromium through issue 7's tour and
// saves each card, rendered by the Playground, as a PNG. Started by bench/screenshots.py, which runs
// the sandbox, the bot and both Playgrounds first:
//   node tests/e2e/screenshots.mjs --dave http://localhost:P1 --erin http://localhost:P2 --out DIR [--chromium PATH]
// Only localhost is ever contacted: every other request the page makes (web fonts) is aborted, and no
// browser is downloaded (playwright-core drives the installed chromium).
import { chromium } from "playwright-core";
import path from "node:path";

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, i, all) =>
  (i % 2 === 0 ? [...pairs, [value.replace(/^--/, ""), all[i + 1]]] : pairs), []));
for (const name of ["dave", "erin", "out"]) {
  if (!args[name]) { console.error(`screenshots: --${name} is required.`); process.exit(2); }
}
const WIDTH = 1280;
const LOCAL = new Set(["localhost", "127.0.0.1"]);

const browser = await chromium.launch({
  executablePath: args.chromium ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});

async function open(url) {
  const context = await browser.newContext({ viewport: { width: WIDTH, height: 900 }, deviceScaleFactor: 1 });
  await context.route("**/*", (route) =>
    LOCAL.has(new URL(route.request().url()).hostname) ? route.continue() : route.abort());
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTitle("Hide log panel").click();  // the card, not the Playground's activity log
  await page.locator('button[aria-label="Personal Chat"]').click();
  return page;
}

async function say(page, text) {
  const box = page.locator('[data-lexical-editor="true"]');
  await box.click();
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

function card(page, text) {
  return page.locator(".ac-adaptiveCard", { hasText: text }).last();
}

// The whole Playground window, tall enough for the card, with the card scrolled fully into view.
async function shot(page, locator, name) {
  await locator.waitFor({ timeout: 30000 });
  await page.waitForTimeout(400);  // let the chat pane finish scrolling to the newest message
  const height = await locator.evaluate((el) => el.getBoundingClientRect().height);
  await page.setViewportSize({ width: WIDTH, height: Math.max(720, Math.ceil(height) + 300) });
  await locator.scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  const file = path.join(args.out, name);
  // The sandbox's temporary password is a secret like any other: never in a picture.
  await page.screenshot({ path: file, mask: [page.getByText("Temporary password for")] });
  console.log(`wrote ${file}`);
}

try {
  const dave = await open(args.dave);
  await say(dave, "/compromised alice");
  await shot(dave, card(dave, "Possible account compromise"), "1-incident-card.png");

  await card(dave, "Possible account compromise").getByRole("button", { name: "Contain selected" }).click();
  const confirm = card(dave, "Confirm containment");
  await confirm.waitFor();
  await confirm.locator("input[type=text], textarea").first().fill("Impossible travel, forwarding rules, a new MFA method");
  await shot(dave, confirm, "2-confirm-card.png");
  await confirm.getByRole("button", { name: "Run" }).click();
  await card(dave, "Waiting for a second responder").waitFor({ timeout: 30000 });

  const erin = await open(args.erin);
  await say(erin, "/compromised status alice");
  const pending = card(erin, "Waiting for a second responder");
  await shot(erin, pending, "3-awaiting-approval-card.png");
  await pending.getByRole("button", { name: "Approve" }).click();

  await shot(dave, card(dave, "Containment finished"), "4-done-card.png");
  await shot(dave, card(dave, "Secure Score"), "5-summary-card.png");

  await say(dave, "/compromised alice");
  const pointer = card(dave, "already has an open incident");
  await pointer.getByRole("button", { name: "Open a new incident" }).click();
  await shot(dave, card(dave, "Possible account compromise"), "6-after-containment.png");
} finally {
  await browser.close();
}
