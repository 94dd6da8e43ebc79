import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { TriadError } from "@triad/sdk";

/**
 * Debian's Chromium, driven by playwright-core: headless, with a fresh profile (a temporary user-data-dir removed on
 * close) and background networking, component updates, sync and the first-run UI off, so a test talks only to the
 * local stack. `TRIAD_CHROMIUM` overrides the binary's path.
 */

export const CHROMIUM_PATH = process.env.TRIAD_CHROMIUM ?? "/usr/bin/chromium";

/** Switches that keep the browser quiet and self-contained on a CI machine (no sandbox: CI runs as root). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-gpu",
  "--disable-sync",
  "--no-first-run",
];

export interface TestBrowser {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Fails with one sentence, naming the Debian package, when Chromium is not installed. */
export function requireChromium(executablePath = CHROMIUM_PATH): void {
  if (!existsSync(executablePath)) {
    throw new TriadError(
      `Chromium is not installed at ${executablePath}: install Debian's package with \`apt-get install chromium\` (or point TRIAD_CHROMIUM at a Chromium binary)`,
      "CHROMIUM_MISSING",
    );
  }
}

/** A headless Chromium with a fresh profile; viewport 1280×800 unless told (phone width: 375). */
export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  requireChromium();
  const profile = mkdtempSync(path.join(os.tmpdir(), "triad-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
      deviceScaleFactor: 1,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw new TriadError(
      `Chromium at ${CHROMIUM_PATH} did not start: ${(error as Error).message.split("\n")[0]}`,
      "CHROMIUM_START",
      {},
      {
        cause: error,
      },
    );
  }
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
