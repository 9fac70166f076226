#!/usr/bin/env bun
// Measures the bytes the console sends per status refresh against a running node, as a serial
// line would carry them. Start a lab first (`hapd demo --loopback --dir /tmp/lab`), then:
//   bun tui/measure-refresh.ts --config /tmp/lab/host-a/hapd.yaml [--refreshes 10] [--term vt100]
// It opens the status screen, lets the console refresh at its normal interval (1 s) and prints
// the bytes of each refresh, and the time 115200 baud (8N1, 11520 bytes/s) needs for them.
import { realPorts } from "./ports.ts";
import { detectCaps } from "./terminal/caps.ts";
import { startHarness } from "./testing/console-harness.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const config = arg("--config", "/tmp/lab/host-a/hapd.yaml");
const refreshes = Number(arg("--refreshes", "10"));
const term = arg("--term", "vt100");
const caps = detectCaps({ TERM: term, LANG: term === "vt100" ? "C" : "C.UTF-8" });
const h = startHarness({ configPath: config, ports: realPorts, caps, refresh_ms: 1000 });
await h.waitFor(/Lock the console|This console is locked/);
if (h.text().includes("This console is locked")) {
  console.error("the console is locked (appliance.yaml): measure against a lab node, which has none");
  process.exit(2);
}
h.press("s");
await h.waitFor("Packets sent");
const firstPaint = h.writer().bytesWritten;
const per: number[] = [];
let last = h.writer().bytesWritten;
let lastText = h.text();
while (per.length < refreshes) {
  await new Promise((r) => setTimeout(r, 50));
  const text = h.text();
  if (text === lastText) continue;
  // A refresh may arrive as one frame; wait until the screen is still for a moment.
  await new Promise((r) => setTimeout(r, 150));
  const now = h.writer().bytesWritten;
  per.push(now - last);
  last = now;
  lastText = h.text();
}
const sorted = [...per].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
const max = sorted[sorted.length - 1]!;
const ms = (b: number) => ((b / 11520) * 1000).toFixed(1);
console.log(h.text());
console.log(`TERM=${term}: full screen paint ${firstPaint} bytes (${ms(firstPaint)} ms at 115200 baud)`);
console.log(`per refresh: ${per.join(" ")} bytes; median ${median} (${ms(median)} ms), max ${max} (${ms(max)} ms at 115200 baud)`);
console.log(JSON.stringify({ term, refreshes: per.length, full_paint_bytes: firstPaint, refresh_bytes_median: median, refresh_bytes_max: max }));
process.exit(0);
