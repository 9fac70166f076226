// What services and the supervisor say to each other on the supervisor's unix socket: one JSON
// object per line, validated, so a confused or hostile local client gets an error, not a crash.
// Checked by hand rather than with zod: the supervisor must stay small (zod and yaml together
// cost a Bun process ~16 MiB, and the supervisor never loads them).

export type ToSupervisor =
  | { t: "register"; service: string; pid: number; interval_ms: number }
  | { t: "hb" }
  | { t: "self-fence"; reason: string }
  | { t: "status" }
  /** Restart every service (the operator's "restart the services"): a clean stop, then a start. */
  | { t: "restart" };

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

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
const isStr = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;

export function parseLine(line: string): { ok: true; msg: ToSupervisor } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, error: "not an object" };
  const m = raw as Record<string, unknown>;
  const keys = Object.keys(m).sort().join(",");
  switch (m.t) {
    case "register":
      if (keys !== "interval_ms,pid,service,t") return { ok: false, error: "register: expected service, pid, interval_ms" };
      if (!isStr(m.service, 32) || !isInt(m.pid, 1, 2 ** 31) || !isInt(m.interval_ms, 10, 60_000)) return { ok: false, error: "register: bad field" };
      return { ok: true, msg: { t: "register", service: m.service, pid: m.pid, interval_ms: m.interval_ms } };
    case "hb":
    case "status":
    case "restart":
      if (keys !== "t") return { ok: false, error: `${m.t}: unexpected fields` };
      return { ok: true, msg: { t: m.t } };
    case "self-fence":
      if (keys !== "reason,t" || !isStr(m.reason, 500)) return { ok: false, error: "self-fence: expected reason" };
      return { ok: true, msg: { t: "self-fence", reason: m.reason } };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(m.t)}` };
  }
}
