// The one error type the IPMI client raises. `code` lets callers (the fence agent, the fencing
// service) decide without parsing text; `message` always names the BMC so an operator can act.

export type IpmiErrorCode =
  | "config" // refused before anything was sent (cipher 0, IPMI 1.5 auth, bad option)
  | "auth_failed" // wrong user name, password or BMC key
  | "privilege" // the BMC refused the privilege level asked for
  | "cipher" // the BMC does not offer the cipher suite asked for
  | "unsupported" // the BMC lacks IPMI v2.0 / RMCP+
  | "timeout" // no (valid) answer within the per-request attempts or the deadline
  | "protocol" // the BMC answered something we cannot accept
  | "completion_code" // the command ran and the BMC said no
  | "closed"; // the session was closed or failed before the request could run

export class IpmiError extends Error {
  readonly code: IpmiErrorCode;
  /** host:port of the BMC, or "" when the error is about local configuration. */
  readonly bmc: string;
  /** IPMI completion code when code === "completion_code". */
  readonly completion_code: number | undefined;

  constructor(code: IpmiErrorCode, bmc: string, message: string, completion_code?: number) {
    super(message);
    this.name = "IpmiError";
    this.code = code;
    this.bmc = bmc;
    this.completion_code = completion_code;
  }
}
