// The player page: lists live streams and recordings (polling the server's JSON) and plays
// one with hls.js, with a rendition picker. No framework, no build step beyond embedding.
"use strict";

const $ = (id) => document.getElementById(id);
// Signed playback: a page opened as /?token=<JWT> passes its token on to what it plays and
// shows (the server then carries it in every URI of the playlists).
const pageToken = new URLSearchParams(location.search).get("token");
const signed = (url) => (pageToken && url ? url + (url.includes("?") ? "&" : "?") +
                                            "token=" + encodeURIComponent(pageToken)
                                          : url);
const player = { hls: null, url: null };
window.sluicePlayer = player;  // for tests and the curious

function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

function idCell(row, id) {
  const td = cell(row, id);
  td.className = "id";
  td.title = id;
  return td;
}

// The stream's latest picture above its ID, when the server makes them (kept by the browser
// for the server's max-age, so the list's polling does not ask for it each time).
function addThumbnail(td, url) {
  if (!url) return;
  const img = document.createElement("img");
  img.src = signed(url);
  img.alt = "";
  img.onerror = () => img.remove();  // no keyframe yet: the next poll tries again
  td.prepend(img);
}

function playButton(row, url, label) {
  const button = document.createElement("button");
  button.textContent = "Play";
  button.dataset.url = url;
  button.onclick = () => play(url, label);
  row.insertCell().appendChild(button);
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
}

async function refreshStreams() {
  const { streams } = await (await fetch("/api/streams")).json();
  const body = $("streams").tBodies[0];
  body.replaceChildren();
  for (const s of streams) {
    const row = body.insertRow();
    row.dataset.playbackId = s.playback_id;
    addThumbnail(idCell(row, s.playback_id), s.thumbnail);
    const rungs = s.transcode ? s.transcode.rungs.filter((r) => !r.shed).map((r) => r.name)
                              : ["source"];
    cell(row, rungs.join(", "));
    cell(row, Math.round(s.bitrate_kbps));
    cell(row, s.fps.toFixed(1));
    cell(row, s.viewers + s.rtmp_players);
    cell(row, duration(s.uptime_s));
    playButton(row, signed(s.master), s.playback_id);
  }
  $("no-streams").hidden = streams.length > 0;
}

async function refreshRecordings() {
  const { recordings } = await (await fetch("/api/recordings")).json();
  const body = $("recordings").tBodies[0];
  body.replaceChildren();
  const playable = recordings.filter((r) => r.playlist);
  for (const r of playable) {
    const row = body.insertRow();
    idCell(row, r.playback_id);
    cell(row, r.id);
    cell(row, duration(r.duration_s));
    cell(row, r.finished ? "finished" : "recording");
    playButton(row, signed(r.playlist), r.playback_id + " (recording " + r.id + ")");
  }
  $("no-recordings").hidden = playable.length > 0;
}

function showLevels() {
  const select = $("rendition");
  select.replaceChildren(new Option("auto", "-1"));
  player.hls.levels.forEach((level, i) => {
    const name = level.height ? level.height + "p" : "level " + i;
    select.add(new Option(name + " (" + Math.round(level.bitrate / 1000) + " kbit/s)", i));
  });
}

function play(url, label) {
  if (player.hls) player.hls.destroy();
  player.url = url;
  $("url").textContent = new URL(url, location.href).href;
  $("now-playing").textContent = label;
  const video = $("video");
  if (window.Hls && Hls.isSupported()) {
    // Low-latency mode follows the playlist: parts and blocking reloads where the server
    // offers them (hls.format = low-latency), plain live HLS otherwise.
    const hls = new Hls({ liveDurationInfinity: true, lowLatencyMode: true });
    player.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => { showLevels(); video.play().catch(() => {}); });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const level = hls.levels[data.level];
      $("level").textContent = level.height ? "playing " + level.height + "p" : "playing";
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else {
    video.src = url;  // Safari plays HLS natively
    video.play().catch(() => {});
  }
}

// How far behind the streamer the picture on screen is: now minus the wall time the server
// stamped on that frame (EXT-X-PROGRAM-DATE-TIME), as hls.js maps it.
function showLatency() {
  const date = player.hls && player.hls.playingDate;
  const live = date && player.url && !player.url.includes("/recordings/");
  $("latency").textContent = live ? "live latency " + ((Date.now() - date) / 1000).toFixed(1) + " s" : "";
}
setInterval(showLatency, 1000);

$("rendition").onchange = (e) => {
  if (player.hls) player.hls.currentLevel = Number(e.target.value);
};

async function refresh() {
  try {
    await Promise.all([refreshStreams(), refreshRecordings()]);
  } catch (err) {
    console.warn("refresh failed", err);
  }
}
refresh();
setInterval(refresh, 2000);
