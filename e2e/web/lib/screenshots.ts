import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Locator, Page } from "playwright-core";

/**
 * The pictures of the README: every flow of the browser tests saves what the user sees at its end to
 * `docs/screenshots/<flow>.png`. They are committed, so each stays under {@link MAX_BYTES}: the whole page when that
 * fits, else its top part.
 */

export const SCREENSHOTS_DIR = path.resolve(import.meta.dirname, "../../../docs/screenshots");
export const MAX_BYTES = 250 * 1024;

/**
 * Saves the page (or only `part` of it, when what the flow ends on is far down a long page) as
 * `docs/screenshots/<flow>.png` and returns its path and size.
 */
export async function saveScreenshot(page: Page, flow: string, part?: Locator): Promise<{ file: string; bytes: number }> {
  if (!/^[a-z0-9-]+$/.test(flow)) throw new Error(`a screenshot's name is lower-case words joined by dashes, not ${JSON.stringify(flow)}`);
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const file = path.join(SCREENSHOTS_DIR, `${flow}.png`);
  // Animations and the caret would make the picture change from run to run.
  const common = { path: file, animations: "disabled", caret: "hide", scale: "css" } as const;
  if (part) {
    await part.screenshot(common);
    const bytes = statSync(file).size;
    if (bytes > MAX_BYTES)
      throw new Error(`the screenshot ${file} is ${bytes} bytes, more than the ${MAX_BYTES} a committed picture may take`);
    return { file, bytes };
  }
  await page.screenshot({ ...common, fullPage: true });
  let bytes = statSync(file).size;
  // Too big: the top of the page (where each page puts what it is about), as tall as fits.
  for (const height of [1400, 1000, 700]) {
    if (bytes <= MAX_BYTES) break;
    const width = page.viewportSize()?.width ?? 1280;
    await page.screenshot({ ...common, fullPage: true, clip: { x: 0, y: 0, width, height } });
    bytes = statSync(file).size;
  }
  if (bytes > MAX_BYTES)
    throw new Error(`the screenshot ${file} is ${bytes} bytes, more than the ${MAX_BYTES} a committed picture may take`);
  return { file, bytes };
}
