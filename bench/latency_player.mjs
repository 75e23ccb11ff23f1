// Plays one HLS URL with hls.js in Debian's headless Chromium, configured as the player page
// configures it (low-latency mode), and reports what a viewer would see: each second, the
// latency (now minus hls.playingDate, the EXT-X-PROGRAM-DATE-TIME of the frame on screen),
// and the stalls. Prints one JSON line.
// Usage: node latency_player.mjs <page url> <hls url> <seconds>
import { launchBrowser } from "../tests/tools/player_page.mjs";

const [pageUrl, hlsUrl, seconds] = process.argv.slice(2);
const browser = await launchBrowser();
const result = { latencies: [], stalls: 0, errors: [] };
try {
  const page = await browser.newPage();
  await page.goto(pageUrl);
  await page.evaluate((src) => window.play(src), hlsUrl);
  await page.waitForFunction(() => document.getElementById("video").currentTime > 0.5, null,
                             { timeout: 60000 });
  await page.evaluate(() => window.countStalls());
  for (let i = 0; i < Number(seconds); i++) {
    await page.waitForTimeout(1000);
    const latency = await page.evaluate(() => window.latency());
    if (latency !== null) result.latencies.push(latency);
  }
  Object.assign(result, await page.evaluate(() => window.summary()));
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err);
  process.exitCode = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
