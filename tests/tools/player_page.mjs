// What the browser checks share: Debian's Chromium started headless through playwright-core,
// and the player page opened on one live stream.
import { chromium } from "playwright-core";

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update"],
  });
}

// Opens the page at `url`, waits for the stream's row in the live list and clicks its play
// button. Returns the page and the row.
export async function openStream(browser, url, playbackId) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
  await page.goto(url);
  const row = page.locator(`#streams tr[data-playback-id="${playbackId}"]`);
  await row.waitFor({ timeout: 30000 });
  await row.locator("button").click();
  return { page, row };
}
