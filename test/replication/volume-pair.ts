// The two backing files and metadata of a replicated volume that starts in sync: both files
// zero-filled, both metadata clean with one uuid and one generation (`create --assume-clean` on
// both hosts). Shared by the replication tests and bench/replication.
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { Volume, newGeneration } from "../../services/replication/volume.ts";

/** Writes `file("a.img")`, `file("a.meta")`, `file("b.img")` and `file("b.meta")` for volume vol0. */
export function formatCleanPair(file: (name: string) => string, size_bytes: number): void {
  const uuid = randomUUID();
  const current = newGeneration();
  for (const n of ["a", "b"]) {
    writeFileSync(file(`${n}.img`), new Uint8Array(size_bytes));
    Volume.format(file(`${n}.meta`), "vol0", { uuid, size_bytes, current, assumeClean: true });
  }
}
