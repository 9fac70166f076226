// What services and the supervisor say to each other on the supervisor's unix socket: one JSON
// object per line, validated, so a confused or hostile local client gets an error, not a crash.
import * as z from "zod";

export const toSupervisor = z.discriminatedUnion("t", [
  z.object({ t: z.literal("register"), service: z.string().max(32), pid: z.number().int().positive(), interval_ms: z.number().int().min(10).max(60_000) }).strict(),
  z.object({ t: z.literal("hb") }).strict(),
  z.object({ t: z.literal("self-fence"), reason: z.string().max(500) }).strict(),
  z.object({ t: z.literal("status") }).strict(),
]);
export type ToSupervisor = z.infer<typeof toSupervisor>;

export interface WatchdogReport {
  driver: string;
  device: string;
  timeout_s: number;
  armed: boolean;
  time_left_s: number | null;
  last_keepalive_ms_ago: number | null;
  warnings: string[];
  /** Why the watchdog is not working (open failed, BMC unreachable), or "" */
  error: string;
  /** The supervisor feeds it now (false during a self-fence or after giving up on a service). */
  feeding: boolean;
  feed_stopped: string;
  /** none configured, or the operator chose kind: none */
  choice: "configured" | "none-by-choice" | "not-configured";
  /** May this node run resources? Only with a working watchdog, or by the operator's explicit choice. */
  resources_allowed: boolean;
}

export interface SupervisorReport {
  pid: number;
  services: Array<{ name: string; pid: number | null; phase: string; restarts: number; critical: boolean; last_heartbeat_ms_ago: number | null; heartbeat_interval_ms: number; last_exit: string }>;
  watchdog: WatchdogReport;
}

export function parseLine(line: string): { ok: true; msg: ToSupervisor } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  const r = toSupervisor.safeParse(raw);
  if (!r.success) return { ok: false, error: r.error.issues[0]?.message ?? "invalid" };
  return { ok: true, msg: r.data };
}
