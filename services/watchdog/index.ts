// The watchdog driver layer (issue 4): one interface, five drivers, a factory and the operator text.
export type { CloseOutcome, WatchdogDriver, WatchdogInfo, WatchdogKind, WatchdogErrorReason } from "./driver.ts";
export { WatchdogError } from "./driver.ts";
export { createWatchdog, type WatchdogPorts } from "./factory.ts";
export { parseWatchdogConfig, watchdogConfigSchema, type DriverConfig, type WatchdogConfig } from "./config.ts";
export { describeFailure } from "./describe-failure.ts";
export type { IpmiWatchdogPort } from "./ipmi-watchdog.ts";
