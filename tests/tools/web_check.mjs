// Drives the player page in headless Chromium (Debian's, through playwright-core): the live
// stream is listed and plays, switching rendition switches, a recording plays. Prints one JSON
// line with what it saw; exits non-zero on the first thing that does not happen.
// Usage: node web_check.mjs <page url> <playback id> <screenshot dir>
import { launchBrowser, openStream } from "./player_page.mjs";

const [url, playbackId, shots] = process.argv.slice(2);
const seen = {};
const browser = await launchBrowser();
try {
  const { page, row } = await openStream(browser, url, playbackId);
  seen.renditions = await row.locator("td").nth(1).textContent();
  // The stream's thumbnail, decoded by the browser.
  await page.waitForFunction((id) => {
    const img = document.querySelector(`#streams tr[data-playback-id="${id}"] img`);
    return img && img.complete && img.naturalWidth > 0;
  }, playbackId, { timeout: 30000 });
  seen.thumbnail_width = await row.locator("img").evaluate((img) => img.naturalWidth);

  const time = () => page.evaluate(() => document.getElementById("video").currentTime);
  const advances = async (what) => {
    await page.waitForFunction(() => document.getElementById("video").currentTime > 0.5,
                               null, { timeout: 30000 });
    const t0 = await time();
    await page.waitForFunction((t) => document.getElementById("video").currentTime > t + 1, t0,
                               { timeout: 20000 });
    seen[what] = await time();
  };
  await advances("live_time");
  seen.levels = await page.evaluate(() => window.sluicePlayer.hls.levels.map((l) => l.height));
  if (seen.levels.length < 2) throw new Error("expected two renditions, got " + seen.levels);

  // Pick each rendition in turn: hls.js must switch to it and playback must go on.
  for (const level of [0, seen.levels.length - 1]) {
    await page.selectOption("#rendition", String(level));
    await page.waitForFunction((l) => window.sluicePlayer.hls.currentLevel === l &&
                                      document.getElementById("level").textContent.length > 0,
                               level, { timeout: 30000 });
    const t0 = await time();
    await page.waitForFunction((t) => document.getElementById("video").currentTime > t + 1, t0,
                               { timeout: 20000 });
    seen["switched_to_" + level] = await page.textContent("#level");
  }
  await page.screenshot({ path: `${shots}/player-live.png` });

  // The recording of this session is listed (it grows while live) and plays.
  const recording = page.locator("#recordings tbody tr", { hasText: playbackId }).first();
  await recording.waitFor({ timeout: 30000 });
  await recording.locator("button").click();
  await page.waitForFunction(() => window.sluicePlayer.url.includes("/recordings/"), null,
                             { timeout: 5000 });
  seen.recording_url = await page.evaluate(() => window.sluicePlayer.url);
  await advances("recording_time");
  await page.screenshot({ path: `${shots}/player-recording.png` });
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
