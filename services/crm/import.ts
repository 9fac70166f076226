// Placeholder replaced below.
import type { ClusterInput } from "./model.ts";
export function importCib(input: ClusterInput): { yaml: string; notes: string[] } {
  void input;
  return { yaml: "", notes: [] };
}
