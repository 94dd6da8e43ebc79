import { useEffect, useId, useMemo, useRef, useState } from "react";

/**
 * A line chart in plain SVG (no chart library: a few hundred bytes of code instead of tens of KB), with axes, tick
 * labels, horizontal thresholds, vertical markers, an optional right-hand axis, and the same data as a table for
 * screen readers and keyboard users (a <details> below the chart).
 */
export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  id: string;
  label: string;
  points: readonly ChartPoint[];
  /** CSS colour; defaults to a palette. */
  color?: string;
  /** Which y axis the series uses (default left). */
  axis?: "left" | "right";
  /** Dashed line. */
  dashed?: boolean;
}

export interface ChartThreshold {
  y: number;
  label: string;
  axis?: "left" | "right";
  color?: string;
}

export interface ChartMarker {
  x: number;
  label: string;
  color?: string;
}

export interface ChartProps {
  /** What the chart shows, for the heading and screen readers ("Telemetry of device 0x12…"). */
  title: string;
  series: readonly ChartSeries[];
  thresholds?: readonly ChartThreshold[];
  markers?: readonly ChartMarker[];
  xLabel?: string;
  yLabel?: string;
  yRightLabel?: string;
  /** Formats x values (default: unix seconds → HH:MM:SS). */
  xFormat?: (x: number) => string;
  yFormat?: (y: number) => string;
  yRightFormat?: (y: number) => string;
  /** Fixed y ranges (default: from the data, padded). */
  yDomain?: [number, number];
  yRightDomain?: [number, number];
  height?: number;
  /** Rows of the table fallback (the last ones; default 50). */
  tableRows?: number;
  testId?: string;
}

const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"];
/** Default drawing width; the chart follows its container's width so that text keeps its size on a phone. */
const DEFAULT_W = 720;
const MIN_W = 300;
const PAD = { left: 56, right: 56, top: 12, bottom: 36 };

export const timeOfDay = (x: number) => new Date(x * 1000).toISOString().slice(11, 19);
const compact = (y: number) => (Math.abs(y) >= 1000 ? y.toFixed(0) : Math.abs(y) >= 10 ? y.toFixed(1) : y.toFixed(2));

function domain(values: number[], fixed?: [number, number]): [number, number] {
  if (fixed) return fixed;
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function ticks([lo, hi]: [number, number], count: number): number[] {
  const step = (hi - lo) / count;
  return Array.from({ length: count + 1 }, (_, i) => lo + step * i);
}

export function Chart(props: ChartProps) {
  const figure = useRef<HTMLElement>(null);
  const [W, setW] = useState(DEFAULT_W);
  useEffect(() => {
    const el = figure.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(([entry]) => setW(Math.max(MIN_W, Math.round(entry.contentRect.width))));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const height = Math.round((props.height ?? 260) * (W < 500 ? 0.85 : 1));
  const titleId = useId();
  const xFormat = props.xFormat ?? timeOfDay;
  const yFormat = props.yFormat ?? compact;
  const yRightFormat = props.yRightFormat ?? compact;
  const hasRight = props.series.some((s) => s.axis === "right") || props.thresholds?.some((t) => t.axis === "right");
  const padRight = hasRight ? PAD.right : 20;

  const layout = useMemo(() => {
    const all = props.series.flatMap((s) => s.points);
    const xs = all.map((p) => p.x).concat((props.markers ?? []).map((m) => m.x));
    const left = props.series.filter((s) => s.axis !== "right").flatMap((s) => s.points.map((p) => p.y));
    const right = props.series.filter((s) => s.axis === "right").flatMap((s) => s.points.map((p) => p.y));
    const xd: [number, number] = xs.length
      ? [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)]
      : [0, 1];
    const yl = domain(left.concat((props.thresholds ?? []).filter((t) => t.axis !== "right").map((t) => t.y)), props.yDomain);
    const yr = domain(right.concat((props.thresholds ?? []).filter((t) => t.axis === "right").map((t) => t.y)), props.yRightDomain);
    const innerW = W - PAD.left - padRight;
    const innerH = height - PAD.top - PAD.bottom;
    const sx = (x: number) => PAD.left + ((x - xd[0]) / (xd[1] - xd[0])) * innerW;
    const sy = (y: number, axis?: "left" | "right") => {
      const [lo, hi] = axis === "right" ? yr : yl;
      return PAD.top + innerH - ((y - lo) / (hi - lo)) * innerH;
    };
    return { xd, yl, yr, sx, sy, innerW, innerH };
  }, [props.series, props.markers, props.thresholds, props.yDomain, props.yRightDomain, height, W, padRight]);

  const { xd, yl, yr, sx, sy } = layout;
  const empty = props.series.every((s) => s.points.length === 0);
  const rows = useMemo(() => {
    const byX = new Map<number, Record<string, number>>();
    for (const s of props.series) for (const p of s.points) byX.set(p.x, { ...byX.get(p.x), [s.id]: p.y });
    return [...byX.entries()].sort((a, b) => a[0] - b[0]).slice(-(props.tableRows ?? 50));
  }, [props.series, props.tableRows]);

  return (
    <figure ref={figure} className="chart" data-testid={props.testId} data-points={props.series.reduce((n, s) => n + s.points.length, 0)}>
      <figcaption id={titleId}>{props.title}</figcaption>
      <ul className="legend" aria-hidden="true">
        {props.series.map((s, i) => (
          <li key={s.id}>
            <span className="swatch" style={{ background: s.color ?? PALETTE[i % PALETTE.length] }} />
            {s.label}
            {hasRight && (s.axis === "right" ? " (right axis)" : " (left axis)")}
          </li>
        ))}
      </ul>
      <svg viewBox={`0 0 ${W} ${height}`} role="img" aria-labelledby={titleId} preserveAspectRatio="xMidYMid meet">
        <g className="axis" fontSize="11">
          {ticks(yl, 4).map((t) => (
            <g key={`l${t}`}>
              <line x1={PAD.left} x2={W - padRight} y1={sy(t)} y2={sy(t)} className="grid" />
              <text x={PAD.left - 6} y={sy(t) + 4} textAnchor="end">
                {yFormat(t)}
              </text>
            </g>
          ))}
          {hasRight &&
            ticks(yr, 4).map((t) => (
              <text key={`r${t}`} x={W - padRight + 6} y={sy(t, "right") + 4} textAnchor="start">
                {yRightFormat(t)}
              </text>
            ))}
          {ticks(xd, W < 500 ? 2 : 4).map((t, i, all) => (
            // The last label ends at its tick, so it never runs off the right edge.
            <text key={`x${t}`} x={sx(t)} y={height - PAD.bottom + 16} textAnchor={i === all.length - 1 ? "end" : "middle"}>
              {xFormat(t)}
            </text>
          ))}
          {props.xLabel && (
            <text x={PAD.left + layout.innerW / 2} y={height - 4} textAnchor="middle">
              {props.xLabel}
            </text>
          )}
          {props.yLabel && (
            <text transform={`translate(12 ${PAD.top + layout.innerH / 2}) rotate(-90)`} textAnchor="middle">
              {props.yLabel}
            </text>
          )}
          {hasRight && props.yRightLabel && (
            <text transform={`translate(${W - 8} ${PAD.top + layout.innerH / 2}) rotate(90)`} textAnchor="middle">
              {props.yRightLabel}
            </text>
          )}
          <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={height - PAD.bottom} className="frame" />
          <line x1={PAD.left} x2={W - padRight} y1={height - PAD.bottom} y2={height - PAD.bottom} className="frame" />
        </g>
        {(props.thresholds ?? []).map((t) => (
          <g key={`t${t.label}`}>
            <line
              x1={PAD.left}
              x2={W - padRight}
              y1={sy(t.y, t.axis)}
              y2={sy(t.y, t.axis)}
              stroke={t.color ?? "#dc2626"}
              strokeDasharray="6 4"
            />
            <text x={W - padRight - 4} y={sy(t.y, t.axis) - 4} textAnchor="end" fontSize="11" fill={t.color ?? "#dc2626"}>
              {t.label}
            </text>
          </g>
        ))}
        {(props.markers ?? []).map((m, i) => (
          <g key={`m${i}`}>
            <line x1={sx(m.x)} x2={sx(m.x)} y1={PAD.top} y2={height - PAD.bottom} stroke={m.color ?? "#d97706"} strokeDasharray="2 3" />
            <title>{m.label}</title>
          </g>
        ))}
        {props.series.map((s, i) =>
          s.points.length === 0 ? null : (
            <polyline
              key={s.id}
              fill="none"
              stroke={s.color ?? PALETTE[i % PALETTE.length]}
              strokeWidth="2"
              strokeDasharray={s.dashed ? "5 4" : undefined}
              points={s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y, s.axis).toFixed(1)}`).join(" ")}
            />
          ),
        )}
        {empty && (
          <text x={W / 2} y={height / 2} textAnchor="middle" className="muted">
            no data yet
          </text>
        )}
      </svg>
      <details className="chart-table">
        <summary>The data as a table</summary>
        <table>
          <caption>{props.title}</caption>
          <thead>
            <tr>
              <th scope="col">{props.xLabel ?? "time"}</th>
              {props.series.map((s) => (
                <th scope="col" key={s.id}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(([x, values]) => (
              <tr key={x}>
                <th scope="row">{xFormat(x)}</th>
                {props.series.map((s) => (
                  <td key={s.id}>{values[s.id] === undefined ? "" : (s.axis === "right" ? yRightFormat : yFormat)(values[s.id])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
