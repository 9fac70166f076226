// Reading back what the wizard wrote beside the node configuration: appliance.yaml (the admin
// password hash and the box's own settings) and the cluster key (for the join token).
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { loadKeyFile } from "../../services/shared/keyfile.ts";
import { encodeJoinToken } from "./join-token.ts";
import { isPasswordHash, type PasswordHash } from "./password-hash.ts";
import { appliancePath } from "./setup-files.ts";

export interface ApplianceInfo {
  path: string;
  exists: boolean;
  hostname: string | null;
  admin: PasswordHash | null;
  /** Why the file could not be used, when it exists but is damaged. */
  error: string | null;
}

export function loadAppliance(configPath: string): ApplianceInfo {
  const path = appliancePath(configPath);
  const info: ApplianceInfo = { path, exists: existsSync(path), hostname: null, admin: null, error: null };
  if (!info.exists) return info;
  try {
    const doc = parse(readFileSync(path, "utf8")) as Record<string, unknown> | null;
    if (!doc || typeof doc !== "object") throw new Error("not a YAML mapping");
    info.hostname = typeof doc.hostname === "string" ? doc.hostname : null;
    if (isPasswordHash(doc.admin_password)) info.admin = doc.admin_password;
    else info.error = `${path}: admin_password is missing or not an scrypt hash`;
  } catch (e) {
    info.error = `${path}: ${(e as Error).message.split("\n")[0]}`;
  }
  return info;
}

/** The join token for the cluster key this node uses. Throws with the reason. */
export function joinTokenOf(keyFile: string): string {
  loadKeyFile(keyFile); // checks the format and the file mode, with an error naming the file
  const b64 = readFileSync(keyFile, "utf8").trim().split(" ")[1] ?? "";
  return encodeJoinToken(new Uint8Array(Buffer.from(b64, "base64")));
}
