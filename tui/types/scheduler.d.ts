// The part of React's `scheduler` package (a dependency of ink and react-reconciler) that the
// console uses; the package ships no types.
declare module "scheduler" {
  export const unstable_IdlePriority: number;
  export const unstable_LowPriority: number;
  export function unstable_scheduleCallback(priority: number, callback: () => void): unknown;
}
