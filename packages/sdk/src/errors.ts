/**
 * One base error for everything the SDK, tasks and oracle raise on purpose. `message` is one short line a user can
 * act on; `details` carries the values that failed; `cause` keeps the underlying error for logs.
 */
export class TriadError extends Error {
  override readonly name: string = "TriadError";
  constructor(
    message: string,
    readonly code: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Input that does not have the required shape or range (a CSV row, a bundle, a CLI argument). */
export class InvalidInputError extends TriadError {
  override readonly name = "InvalidInputError";
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, "INVALID_INPUT", details, options);
  }
}

/** A deployment record that is missing or incomplete for the chain in use. */
export class DeploymentNotFoundError extends TriadError {
  override readonly name = "DeploymentNotFoundError";
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, "DEPLOYMENT_NOT_FOUND", details);
  }
}

/**
 * A thing that was asked about does not exist: "claim 99 does not exist", "device 0x… is not registered". One
 * wording everywhere; `details` names what was looked up.
 */
export class NotFoundError extends TriadError {
  override readonly name = "NotFoundError";
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, "NOT_FOUND", details, options);
  }
}

/**
 * A contract refused a call or transaction: `message` is the sentence of its custom error (contract-errors.ts),
 * `details.error` the error's name and `details.args` its arguments as decimal strings.
 */
export class ContractRefusedError extends TriadError {
  override readonly name = "ContractRefusedError";
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, "CONTRACT_REFUSED", details, options);
  }
}
