/** Small helpers for human output of scripts: progress lines and aligned tables. */

const started = Date.now();

/** Prints a progress line with the seconds elapsed since the script started. */
export function step(message: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`[${t}s] ${message}`);
}

/** Renders rows as an aligned text table (first row = header). Numbers are right-aligned. */
export function table(rows: readonly (readonly (string | number | bigint)[])[]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === "string" ? c : c.toLocaleString("en-US"))));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[], raw: readonly (string | number | bigint)[]) =>
    r
      .map((c, i) => (typeof raw[i] === "string" ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [line(cells[0], rows[0].map(String)), widths.map((w) => "-".repeat(w)).join("  ")];
  for (let i = 1; i < cells.length; i++) out.push(line(cells[i], rows[i]));
  return out.join("\n");
}

/** Collects gas used per named operation (whole-transaction gasUsed from receipts). */
export class GasLog {
  private readonly ops = new Map<string, bigint[]>();
  add(op: string, receipt: { gasUsed: bigint } | null | undefined): void {
    if (!receipt) return;
    const list = this.ops.get(op) ?? [];
    list.push(receipt.gasUsed);
    this.ops.set(op, list);
  }
  rows(): (string | bigint | number)[][] {
    const rows: (string | bigint | number)[][] = [["operation", "txs", "gas (mean)", "gas (max)"]];
    for (const [op, list] of this.ops) {
      const total = list.reduce((a, b) => a + b, 0n);
      const max = list.reduce((a, b) => (b > a ? b : a), 0n);
      rows.push([op, list.length, total / BigInt(list.length), max]);
    }
    return rows;
  }
}
