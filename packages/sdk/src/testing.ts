import { TriadError } from "./errors.ts";

/**
 * @triad/sdk/testing: the one way tests across the packages expect a {@link TriadError}. Framework-free (it throws a
 * plain Error when the expectation fails, which every test runner reports), so any package's tests can use it.
 */
export interface TriadErrorExpectation {
  /** The stable `code` the error must carry. */
  code?: string;
  /** A substring or pattern the message must contain. */
  message?: string | RegExp;
}

/**
 * Runs `action` (a function, sync or async, or a promise) and returns the TriadError it threw or rejected with,
 * after checking it against `expected`. Fails when nothing was thrown, when something else was thrown, when the code
 * or message differs, or when the message spans lines (a user sees one clear line).
 */
export async function expectTriadError(
  action: (() => unknown) | Promise<unknown>,
  expected: TriadErrorExpectation = {},
): Promise<TriadError> {
  let outcome: { error: unknown } | undefined;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (error) {
    outcome = { error };
  }
  return checkTriadError(outcome, expected);
}

/** {@link expectTriadError} for a synchronous function. */
export function expectTriadErrorSync(action: () => unknown, expected: TriadErrorExpectation = {}): TriadError {
  let outcome: { error: unknown } | undefined;
  try {
    action();
  } catch (error) {
    outcome = { error };
  }
  return checkTriadError(outcome, expected);
}

function checkTriadError(outcome: { error: unknown } | undefined, expected: TriadErrorExpectation): TriadError {
  const want = [expected.code && `code ${expected.code}`, expected.message && `message ${String(expected.message)}`]
    .filter(Boolean)
    .join(", ");
  if (!outcome) throw new Error(`expected a TriadError${want ? ` (${want})` : ""}, but nothing was thrown`);
  const { error } = outcome;
  if (!(error instanceof TriadError)) {
    throw new Error(
      `expected a TriadError${want ? ` (${want})` : ""}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
  if (expected.code !== undefined && error.code !== expected.code) {
    throw new Error(`expected TriadError code ${expected.code}, got ${error.code}: ${error.message}`);
  }
  const { message } = expected;
  if (message !== undefined && !(typeof message === "string" ? error.message.includes(message) : message.test(error.message))) {
    throw new Error(`expected a TriadError message matching ${String(message)}, got: ${error.message}`);
  }
  if (error.message.includes("\n")) throw new Error(`a TriadError message must be one line, got: ${JSON.stringify(error.message)}`);
  return error;
}
