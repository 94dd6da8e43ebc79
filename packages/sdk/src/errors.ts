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
