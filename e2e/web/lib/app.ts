import type { Locator, Page } from "playwright-core";

/**
 * Driving the web app as a user does, through the `data-testid`s its pages carry (apps/web/src: lib/WalletMenu.tsx,
 * lib/tx.tsx, the pages). Every wait has a generous bound (the CI machine is shared) and fails naming what it waited
 * for and, when the app shows one, its error sentence.
 */

export const WAIT_MS = 90_000;
/** The EIP-6963 id the app gives the injected test wallet (`eip6963:<rdns>`, lib/wallet.tsx). */
export const TEST_WALLET_OPTION = "wallet-option-eip6963:org.triad.test-wallet";

export const byTestId = (page: Page | Locator, id: string): Locator => page.locator(`[data-testid="${id}"]`);

/** Opens `#<route>` of the app at `baseUrl` and waits for the shell (the wallet control) to render. */
export async function openApp(page: Page, baseUrl: string, route = "/"): Promise<void> {
  await page.goto(`${baseUrl.replace(/\/$/, "")}/#${route}`);
  await page
    .locator('[data-testid="wallet-connect"], [data-testid="wallet"], [data-testid="config-error"]')
    .first()
    .waitFor({ timeout: WAIT_MS });
  const configError = byTestId(page, "config-error");
  if (await configError.count()) throw new Error(`the app did not start: ${await configError.innerText()}`);
}

/** Navigates inside the app (hash route) and waits for `testId` when given. */
export async function go(page: Page, route: string, testId?: string): Promise<void> {
  await page.evaluate((r) => (location.hash = `#${r}`), route);
  if (testId) await visible(page, testId);
}

/** Waits until the element `testId` is visible; fails with the page's error sentences when it does not come. */
export async function visible(page: Page, testId: string, timeout = WAIT_MS): Promise<Locator> {
  const target = byTestId(page, testId).first();
  try {
    await target.waitFor({ state: "visible", timeout });
  } catch {
    throw new Error(`the app did not show [data-testid="${testId}"] on ${page.url()}${await errorsOnPage(page)}`);
  }
  return target;
}

/** The error sentences the page shows (role="alert"), for failure messages. */
export async function errorsOnPage(page: Page): Promise<string> {
  const alerts = await page
    .locator('[role="alert"]')
    .allInnerTexts()
    .catch(() => [] as string[]); // the page may be navigating
  const texts = alerts.map((t) => t.trim()).filter(Boolean);
  return texts.length ? `; the page says: ${texts.join(" | ")}` : "";
}

/** Connects the injected test wallet through the wallet menu and waits for the connected account. */
export async function connectWallet(page: Page): Promise<string> {
  await byTestId(page, "wallet-connect").click();
  await visible(page, "wallet-dialog");
  await byTestId(page, TEST_WALLET_OPTION).click();
  const account = await visible(page, "wallet-account");
  return (await account.getAttribute("data-account")) ?? "";
}

/** The dialog of the transaction button that is open. */
export const openTxDialog = (page: Page): Locator => page.locator('dialog[open][data-testid="tx-dialog"]');

/**
 * Runs the transaction behind the button `buttonTestId` through the transaction dialog: opens it, checks it states
 * what it does, confirms, waits for the outcome and returns the result sentence (the dialog stays open, so a
 * screenshot shows it; {@link closeTx} closes it). A failure throws with the dialog's error sentence.
 */
export async function runTx(page: Page, buttonTestId: string, within?: Locator): Promise<string> {
  const button = byTestId(within ?? page, buttonTestId).first();
  await button.waitFor({ state: "visible", timeout: WAIT_MS });
  if (await button.isDisabled()) {
    const why = await button
      .locator("xpath=following-sibling::small")
      .first()
      .innerText()
      .catch(() => "");
    throw new Error(`the button [data-testid="${buttonTestId}"] is disabled ${why}${await errorsOnPage(page)}`);
  }
  await button.click();
  const dialog = openTxDialog(page);
  await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
  await byTestId(dialog, "tx-confirm").click();
  const status = byTestId(dialog, "tx-status");
  await page.waitForFunction(
    (el) => el !== null && ["done", "failed"].includes(el.getAttribute("data-phase") ?? ""),
    await status.elementHandle(),
    { timeout: WAIT_MS, polling: 100 },
  );
  if ((await status.getAttribute("data-phase")) === "failed") {
    throw new Error(`the transaction of [data-testid="${buttonTestId}"] failed: ${await byTestId(dialog, "tx-error").innerText()}`);
  }
  return (await byTestId(dialog, "tx-result").innerText()).trim();
}

/** Closes the open transaction dialog. */
export async function closeTx(page: Page): Promise<void> {
  const dialog = openTxDialog(page);
  await byTestId(dialog, "tx-close").click();
  await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
}

/** Waits until `[data-testid=testId]` has the attribute `name` matching `pattern` (e.g. a status reaching "Approved"). */
export async function attributeMatches(page: Page, testId: string, name: string, pattern: RegExp, timeout = WAIT_MS): Promise<string> {
  const target = byTestId(page, testId).first();
  const deadline = Date.now() + timeout;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await target.getAttribute(name, { timeout: 5_000 }).catch(() => null);
    if (last !== null && pattern.test(last)) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`[data-testid="${testId}"] ${name}=${JSON.stringify(last)} never matched ${pattern}${await errorsOnPage(page)}`);
}

/** Waits until the text of `[data-testid=testId]` matches `pattern`. */
export async function textMatches(page: Page, testId: string, pattern: RegExp, timeout = WAIT_MS): Promise<string> {
  const target = byTestId(page, testId).first();
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    last = (await target.innerText({ timeout: 5_000 }).catch(() => "")).trim();
    if (pattern.test(last)) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`[data-testid="${testId}"] read ${JSON.stringify(last)}, never matching ${pattern}${await errorsOnPage(page)}`);
}
