import { useState } from "react";
import type { SignedReading } from "@triad/sdk";
import { Chart, type ChartMarker } from "../lib/Chart.tsx";

/**
 * AI4I 2020 readings (`ai4i-2020/v1` values: air and process temperature in mK, speed in rpm, torque in mNm, tool wear
 * in min, variant) as a chart of two quantities the user picks (speed and torque by default: the power and
 * overstrain failures show there), with an optional marker (the incident).
 */
const QUANTITIES = [
  { id: "rpm", label: "Rotational speed (rpm)", index: 2, scale: 1 },
  { id: "torque", label: "Torque (Nm)", index: 3, scale: 1000 },
  { id: "air", label: "Air temperature (K)", index: 0, scale: 1000 },
  { id: "process", label: "Process temperature (K)", index: 1, scale: 1000 },
  { id: "wear", label: "Tool wear (min)", index: 4, scale: 1 },
] as const;

export function ReadingsChart(props: { title: string; readings: readonly SignedReading[]; markers?: ChartMarker[]; testId?: string }) {
  const [left, setLeft] = useState<string>("rpm");
  const [right, setRight] = useState<string>("torque");
  const q = (id: string) => QUANTITIES.find((x) => x.id === id) ?? QUANTITIES[0];
  const series = (id: string, axis: "left" | "right") => {
    const quantity = q(id);
    return {
      id: `${quantity.id}-${axis}`,
      label: quantity.label,
      axis,
      points: props.readings
        .filter((r) => r.values.length > quantity.index)
        .map((r) => ({ x: Number(r.timestamp), y: Number(r.values[quantity.index]) / quantity.scale })),
    };
  };
  const select = (label: string, value: string, set: (v: string) => void, testId: string) => (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => set(e.target.value)} data-testid={testId}>
        {QUANTITIES.map((x) => (
          <option key={x.id} value={x.id}>
            {x.label}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div data-testid={props.testId}>
      <div className="row">
        {select("Left axis", left, setLeft, `${props.testId ?? "readings"}-left`)}
        {select("Right axis", right, setRight, `${props.testId ?? "readings"}-right`)}
      </div>
      <Chart
        title={props.title}
        series={[series(left, "left"), series(right, "right")]}
        markers={props.markers}
        xLabel="time (UTC)"
        yLabel={q(left).label}
        yRightLabel={q(right).label}
        testId={props.testId ? `${props.testId}-chart` : undefined}
      />
    </div>
  );
}
