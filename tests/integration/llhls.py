"""Low-latency HLS as the HLS second edition defines it: a parser for media playlists with
parts, and a validator of the rules a server must keep, for any server under test."""

import re

ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def attributes(value):
    return {k: v.strip('"') for k, v in ATTR.findall(value)}


class Playlist:
    """A parsed media playlist. segments: dicts with msn, duration, uri, parts (each a dict
    with duration, uri, independent); partial: the parts of the segment in progress."""

    def __init__(self, text):
        self.text = text
        self.tags = {}
        self.segments = []
        self.partial = []
        self.hint = None
        self.reports = []
        self.skipped = 0
        self.ended = False
        self.maps = []
        parts, duration, pdt = [], None, None
        for line in text.splitlines():
            tag, _, value = line.partition(":")
            if line.startswith("#EXT-X-PART:"):
                a = attributes(value)
                parts.append({"duration": float(a["DURATION"]), "uri": a["URI"],
                              "independent": a.get("INDEPENDENT") == "YES"})
            elif line.startswith("#EXTINF:"):
                duration = float(value.split(",")[0])
            elif tag == "#EXT-X-PRELOAD-HINT":
                self.hint = attributes(value)
            elif tag == "#EXT-X-RENDITION-REPORT":
                self.reports.append(attributes(value))
            elif tag == "#EXT-X-SKIP":
                self.skipped = int(attributes(value)["SKIPPED-SEGMENTS"])
            elif tag == "#EXT-X-MAP":
                self.maps.append(attributes(value)["URI"])
            elif tag == "#EXT-X-PROGRAM-DATE-TIME":
                pdt = value
            elif line == "#EXT-X-ENDLIST":
                self.ended = True
            elif line.startswith("#"):
                self.tags.setdefault(tag, value)
            elif line:
                self.segments.append({"duration": duration, "uri": line, "parts": parts,
                                      "pdt": pdt})
                parts, duration = [], None
        self.partial = parts
        first = int(self.tags.get("#EXT-X-MEDIA-SEQUENCE", "0")) + self.skipped
        for i, s in enumerate(self.segments):
            s["msn"] = first + i
        self.next_msn = first + len(self.segments)
        self.part_target = float(attributes(self.tags["#EXT-X-PART-INF"])["PART-TARGET"]) \
            if "#EXT-X-PART-INF" in self.tags else None
        self.server_control = attributes(self.tags.get("#EXT-X-SERVER-CONTROL", ""))

    def all_parts(self):
        """(msn, index, part) for every part listed, oldest first."""
        out = [(s["msn"], i, p) for s in self.segments for i, p in enumerate(s["parts"])]
        out += [(self.next_msn, i, p) for i, p in enumerate(self.partial)]
        return out

    def last_position(self):
        """(msn, part index) of the newest part, as a rendition report names it."""
        if self.partial:
            return self.next_msn, len(self.partial) - 1
        last = self.segments[-1]
        return last["msn"], len(last["parts"]) - 1

    def has(self, msn, part=None):
        """Whether the playlist holds segment msn (or its part), or anything later."""
        last_msn, last_part = self.last_position()
        if part is None:
            return self.next_msn > msn or self.ended
        return (last_msn, last_part) >= (msn, part) or self.ended


def part_number(uri):
    m = re.fullmatch(r"part(\d+)\.m4s", uri)
    if not m:
        raise AssertionError(f"part URI {uri!r} is not part<N>.m4s")
    return int(m.group(1))


def validate(pl, target_duration_s):
    """The LL-HLS rules of one live playlist; returns a list of violations (empty: valid)."""
    errors = []
    if pl.part_target is None:
        return ["no EXT-X-PART-INF"]
    sc = pl.server_control
    if sc.get("CAN-BLOCK-RELOAD") != "YES":
        errors.append("SERVER-CONTROL lacks CAN-BLOCK-RELOAD=YES")
    for name in ("PART-HOLD-BACK", "HOLD-BACK", "CAN-SKIP-UNTIL"):
        if name not in sc:
            errors.append(f"SERVER-CONTROL lacks {name}")
    if "PART-HOLD-BACK" in sc and float(sc["PART-HOLD-BACK"]) < 2 * pl.part_target:
        errors.append("PART-HOLD-BACK below twice the part target")
    target = int(pl.tags["#EXT-X-TARGETDURATION"])
    if "HOLD-BACK" in sc and float(sc["HOLD-BACK"]) < 3 * target:
        errors.append("HOLD-BACK below three target durations")
    if not pl.maps:
        errors.append("no EXT-X-MAP")
    if int(pl.tags.get("#EXT-X-VERSION", "0")) < 6:
        errors.append("EXT-X-VERSION below 6 with EXT-X-MAP and parts")
    # Parts other than a segment's last (or an independent one) last at least 85 % of the
    # target; the newest part listed may yet turn out to be its segment's last.
    for s in pl.segments + [{"msn": pl.next_msn, "parts": pl.partial[:-1]}]:
        for part in s["parts"][:-1] if s.get("uri") else s["parts"]:
            if not part["independent"] and part["duration"] < 0.85 * pl.part_target:
                errors.append(f"part {part['uri']} of segment {s['msn']} lasts only "
                              f"{part['duration']}")
    numbers = []
    for msn, index, part in pl.all_parts():
        if part["duration"] > pl.part_target:
            errors.append(f"part {part['uri']} lasts {part['duration']} > {pl.part_target}")
        numbers.append(part_number(part["uri"]))
        if index == 0 and not part["independent"]:
            errors.append(f"first part of segment {msn} is not INDEPENDENT")
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False:
        errors.append(f"part numbers not consecutive: {numbers}")
    for s in pl.segments:
        if round(s["duration"]) > target:
            errors.append(f"segment {s['msn']} lasts {s['duration']} > target {target}")
        if s["parts"]:
            total = sum(p["duration"] for p in s["parts"])
            if abs(total - s["duration"]) > 0.0015 * len(s["parts"]):
                errors.append(f"parts of segment {s['msn']} add up to {total}, "
                              f"not its {s['duration']}")
    # Every part within three target durations of the end is listed.
    after = sum(p["duration"] for p in pl.partial)
    for s in reversed(pl.segments):
        if not pl.ended and after < 3 * target_duration_s - 0.01 and not s["parts"]:
            errors.append(f"segment {s['msn']} ends {after:.3f} s before the end, without parts")
        after += s["duration"]
    if not pl.ended:
        if not pl.hint or pl.hint.get("TYPE") != "PART":
            errors.append("no EXT-X-PRELOAD-HINT TYPE=PART")
        elif numbers and part_number(pl.hint["URI"]) != numbers[-1] + 1:
            errors.append(f"preload hint {pl.hint['URI']} is not the part after {numbers[-1]}")
    return errors
