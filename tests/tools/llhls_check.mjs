// Plays a live stream on the player page in headless Chromium (Debian's, through
// playwright-core) and watches hls.js for a while: whether it runs in low-latency mode with
// parts, the latency each second (now minus hls.playingDate, the EXT-X-PROGRAM-DATE-TIME of
// the frame on screen), and stalls. Prints one JSON line; exits non-zero when playback does
// not start or the page fails.
// Usage: node llhls_check.mjs <page url> <playback id> <seconds> [screenshot path]
import { launchBrowser, openStream } from "./player_page.mjs";

const [url, playbackId, seconds, shot] = process.argv.slice(2);
const seen = { latencies: [], stalls: 0, errors: [] };
const browser = await launchBrowser();
try {
  const { page } = await openStream(browser, url, playbackId);
  await page.waitForFunction(() => document.getElementById("video").currentTime > 0.5, null,
                             { timeout: 30000 });
  // From here on: stalls are hls.js buffer stalls and the video element waiting for data.
  await page.evaluate(() => {
    const hls = window.sluicePlayer.hls;
    window.llStalls = 0;
    window.llErrors = [];
    hls.on(window.Hls.Events.ERROR, (_, data) => {
      if (data.details === "bufferStalledError") window.llStalls++;
      else window.llErrors.push(data.details + (data.fatal ? " (fatal)" : ""));
    });
    document.getElementById("video").addEventListener("waiting", () => window.llStalls++);
  });
  for (let i = 0; i < Number(seconds); i++) {
    await page.waitForTimeout(1000);
    const s = await page.evaluate(() => {
      const hls = window.sluicePlayer.hls;
      const level = hls.levels[hls.currentLevel] || hls.levels[0];
      const details = level && level.details;
      return {
        latency: hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : null,
        parts: details && details.partList ? details.partList.length : 0,
        lowLatency: hls.lowLatencyMode,
        canBlockReload: details ? details.canBlockReload : false,
        time: document.getElementById("video").currentTime,
        shown: document.getElementById("latency").textContent,
      };
    });
    if (s.latency !== null) seen.latencies.push(s.latency);
    seen.parts = Math.max(seen.parts || 0, s.parts);
    seen.low_latency = s.lowLatency;
    seen.can_block_reload = s.canBlockReload;
    seen.last_time = s.time;
    seen.shown = s.shown;
  }
  seen.stalls = await page.evaluate(() => window.llStalls);
  seen.errors = await page.evaluate(() => window.llErrors);
  if (shot) await page.screenshot({ path: shot });
  const sorted = [...seen.latencies].sort((a, b) => a - b);
  seen.median = sorted[Math.floor(sorted.length / 2)];
  seen.p90 = sorted[Math.floor(sorted.length * 0.9)];
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err), ...seen }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
