import { InvalidInputError } from "./errors.ts";

/** Sensor schema id of AI4I 2020 machine telemetry readings (docs/protocol.md §5). */
export const AI4I_SCHEMA = "ai4i-2020/v1";

/** Column header of the AI4I 2020 CSV files, in order. */
export const AI4I_COLUMNS = [
  "UDI",
  "Product ID",
  "Type",
  "Air temperature [K]",
  "Process temperature [K]",
  "Rotational speed [rpm]",
  "Torque [Nm]",
  "Tool wear [min]",
  "Machine failure",
  "TWF",
  "HDF",
  "PWF",
  "OSF",
  "RNF",
] as const;

export type ProductVariant = "L" | "M" | "H";
const VARIANTS: readonly ProductVariant[] = ["L", "M", "H"];

/** One row of the AI4I 2020 data set, in physical units. */
export interface Ai4iRow {
  udi: number;
  productId: string;
  variant: ProductVariant;
  airTempK: number;
  processTempK: number;
  rpm: number;
  torqueNm: number;
  toolWearMin: number;
  /** The label: 1 when the machine failed (any failure mode). */
  failure: 0 | 1;
  modes: { TWF: 0 | 1; HDF: 0 | 1; PWF: 0 | 1; OSF: 0 | 1; RNF: 0 | 1 };
}

/** Telemetry of one `ai4i-2020/v1` reading, in physical units (what the model sees). */
export interface Ai4iTelemetry {
  airTempK: number;
  processTempK: number;
  rpm: number;
  torqueNm: number;
  toolWearMin: number;
  variant: ProductVariant;
}

/**
 * Parses an AI4I 2020 CSV (the original header, comma-separated). Every problem names the line and column, so a
 * user can fix the file; nothing is silently dropped.
 */
export function parseAi4iCsv(text: string, source = "CSV"): Ai4iRow[] {
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.split(",").map((c) => c.trim());
  if (!header || header.length < AI4I_COLUMNS.length || AI4I_COLUMNS.some((c, i) => header[i] !== c)) {
    throw new InvalidInputError(`${source}: line 1 is not the AI4I 2020 header (${AI4I_COLUMNS.join(",")})`, {
      source,
      header: lines[0],
    });
  }
  const rows: Ai4iRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const cells = line.split(",");
    const at = `${source}: line ${i + 1}`;
    if (cells.length < AI4I_COLUMNS.length) {
      throw new InvalidInputError(`${at} has ${cells.length} columns, expected ${AI4I_COLUMNS.length}`, { line: i + 1 });
    }
    const num = (col: number): number => {
      const v = Number(cells[col]);
      if (cells[col].trim() === "" || !Number.isFinite(v)) {
        throw new InvalidInputError(`${at}: column "${AI4I_COLUMNS[col]}" is not a number: "${cells[col]}"`, {
          line: i + 1,
          column: AI4I_COLUMNS[col],
        });
      }
      return v;
    };
    const flag = (col: number): 0 | 1 => {
      const v = num(col);
      if (v !== 0 && v !== 1) {
        throw new InvalidInputError(`${at}: column "${AI4I_COLUMNS[col]}" must be 0 or 1, got "${cells[col]}"`, {
          line: i + 1,
          column: AI4I_COLUMNS[col],
        });
      }
      return v;
    };
    const variant = cells[2].trim() as ProductVariant;
    if (!VARIANTS.includes(variant)) {
      throw new InvalidInputError(`${at}: column "Type" must be L, M or H, got "${cells[2]}"`, { line: i + 1 });
    }
    rows.push({
      udi: num(0),
      productId: cells[1].trim(),
      variant,
      airTempK: num(3),
      processTempK: num(4),
      rpm: num(5),
      torqueNm: num(6),
      toolWearMin: num(7),
      failure: flag(8),
      modes: { TWF: flag(9), HDF: flag(10), PWF: flag(11), OSF: flag(12), RNF: flag(13) },
    });
  }
  return rows;
}

/** Scales a decimal number to an integer of 10^-decimals units, rounding once (to nearest) via its decimal form. */
function scaleDecimal(value: number, decimals: number): bigint {
  const [int, frac = ""] = value.toFixed(decimals).split(".");
  return BigInt(int + frac);
}

/**
 * The reading values of `ai4i-2020/v1`: `[air temperature mK, process temperature mK, rotational speed rpm,
 * torque mNm, tool wear min, product variant 0=L 1=M 2=H]` (docs/protocol.md §5).
 */
export function telemetryToValues(t: Ai4iTelemetry): bigint[] {
  return [
    scaleDecimal(t.airTempK, 3),
    scaleDecimal(t.processTempK, 3),
    scaleDecimal(t.rpm, 0),
    scaleDecimal(t.torqueNm, 3),
    scaleDecimal(t.toolWearMin, 0),
    BigInt(VARIANTS.indexOf(t.variant)),
  ];
}

/** Inverse of {@link telemetryToValues}; refuses values that are not a valid `ai4i-2020/v1` reading. */
export function valuesToTelemetry(values: readonly bigint[]): Ai4iTelemetry {
  if (values.length !== 6) {
    throw new InvalidInputError(`an ${AI4I_SCHEMA} reading has 6 values, got ${values.length}`, { values: values.map(String) });
  }
  const variant = VARIANTS[Number(values[5])];
  if (values[5] < 0n || values[5] > 2n || !variant) {
    throw new InvalidInputError(`product variant must be 0, 1 or 2, got ${values[5]}`, { variant: String(values[5]) });
  }
  return {
    airTempK: Number(values[0]) / 1000,
    processTempK: Number(values[1]) / 1000,
    rpm: Number(values[2]),
    torqueNm: Number(values[3]) / 1000,
    toolWearMin: Number(values[4]),
    variant,
  };
}
