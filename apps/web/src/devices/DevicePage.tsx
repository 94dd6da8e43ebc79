import { useEffect, useMemo, useRef, useState } from "react";
import { getAddress, isAddress } from "ethers";
import { DeviceStatus, enumName, listAnchors, sensorSchemaName } from "@triad/sdk";
import type { PageProps } from "../App.tsx";
import { useAsync } from "../lib/async.ts";
import { Chart, type ChartMarker } from "../lib/Chart.tsx";
import { useConfig } from "../lib/config.ts";
import { deploymentScanRange, useChainNow, useContracts, useExplainContext } from "../lib/contracts.tsx";
import { errorSentence } from "../lib/errors.ts";
import { Link } from "../lib/router.ts";
import { Address, Badge, ErrorText, Loading, Time, Timeline, type TimelineItem } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import {
  gatewayDevice,
  readingsSince,
  gatewayReadings,
  riskFeed,
  telemetryOf,
  verifyGatewayReading,
  type GatewayReading,
  type ReadingVerification,
} from "./data.ts";
import { statusTone } from "./DevicesPage.tsx";

/**
 * A device: its registry record, a live telemetry chart from the gateway (polled every few seconds for readings
 * after the last one shown), the monitor's failure-risk line with its thresholds and alerts, the anchors its
 * readings are under (fleet anchors from the gateway, batch anchors from the chain) and "verify this reading".
 */

const WINDOWS = [
  { seconds: 600, label: "10 min" },
  { seconds: 1800, label: "30 min" },
  { seconds: 7200, label: "2 h" },
];
const POLL_MS = 3000;
/** Anchors listed before "show all". */
const SHOWN_ANCHORS = 6;
const MAX_POINTS = 2000;

function useLiveReadings(device: string | undefined, windowSeconds: number) {
  const config = useConfig();
  const [readings, setReadings] = useState<GatewayReading[]>([]);
  const [error, setError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  const last = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (!device) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    last.current = undefined;
    setReadings([]);
    setLoaded(false);
    const from = () => BigInt(Math.floor(Date.now() / 1000) - windowSeconds);
    const tick = async () => {
      try {
        let fresh: GatewayReading[];
        if (last.current === undefined) {
          fresh = await readingsSince(config, device, from(), MAX_POINTS, controller.signal);
        } else {
          fresh = [];
          let page = await gatewayReadings(config, device, { after: last.current }, controller.signal);
          fresh.push(...page.readings);
          while (page.next && fresh.length < MAX_POINTS) {
            page = await gatewayReadings(config, device, { after: page.next }, controller.signal);
            fresh.push(...page.readings);
          }
        }
        if (controller.signal.aborted) return;
        if (fresh.length > 0) last.current = fresh[fresh.length - 1].seq;
        const cutoff = from();
        setReadings((old) => {
          // Re-fetch the anchors of readings still pending: replace readings by seq with the newest copy.
          const bySeq = new Map(old.map((r) => [r.seq, r]));
          for (const r of fresh) bySeq.set(r.seq, r);
          return [...bySeq.values()].filter((r) => BigInt(r.timestamp) >= cutoff).slice(-MAX_POINTS);
        });
        setError(undefined);
        setLoaded(true);
      } catch (err) {
        if (!controller.signal.aborted) {
          setError(err);
          setLoaded(true);
        }
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void tick(), POLL_MS);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [config, device, windowSeconds]);
  return { readings, error, loaded };
}

/** Readings whose anchor was pending: fetched again (by seq range) so their anchor and proof show once confirmed. */
function useRefreshedAnchors(device: string | undefined, readings: GatewayReading[]) {
  const config = useConfig();
  const [updated, setUpdated] = useState<Map<string, GatewayReading>>(new Map());
  const oldestPending = readings.find((r) => !r.anchor || r.anchor.status !== "confirmed")?.seq;
  useEffect(() => {
    if (!device || oldestPending === undefined) return;
    const controller = new AbortController();
    const timer = setInterval(() => {
      const after = (BigInt(oldestPending) - 1n).toString();
      gatewayReadings(config, device, { after, limit: 1000 }, controller.signal).then(
        (page) => setUpdated((m) => new Map([...m, ...page.readings.map((r) => [r.seq, r] as const)])),
        () => undefined,
      );
    }, 5000);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [config, device, oldestPending]);
  return useMemo(() => readings.map((r) => updated.get(r.seq) ?? r), [readings, updated]);
}

export default function DevicePage({ params }: PageProps) {
  const config = useConfig();
  const wallet = useWallet();
  const { registry } = useContracts();
  const explain = useExplainContext();
  const now = useChainNow();
  const valid = isAddress(params.address);
  const device = valid ? getAddress(params.address) : undefined;
  const [windowSeconds, setWindowSeconds] = useState(WINDOWS[0].seconds);
  const [allAnchors, setAllAnchors] = useState(false);

  const record = useAsync(async () => (device ? registry.getDevice(device) : undefined), [registry, device], 15_000);
  const summary = useAsync(async (signal) => (device ? gatewayDevice(config, device, signal) : undefined), [config, device], 10_000);
  const live = useLiveReadings(device, windowSeconds);
  const readings = useRefreshedAnchors(device, live.readings);
  const risk = useAsync(
    async (signal) => (device ? riskFeed(config, device, BigInt(Math.floor(Date.now() / 1000) - windowSeconds), signal) : undefined),
    [config, device, windowSeconds],
    5000,
  );
  const batchAnchors = useAsync(
    async () => (device ? listAnchors(registry, await deploymentScanRange(config, wallet.readProvider), { device }) : []),
    [config, registry, device],
    30_000,
  );

  const series = useMemo(() => {
    const temps = { air: [] as { x: number; y: number }[], process: [] as { x: number; y: number }[] };
    const mech = { rpm: [] as { x: number; y: number }[], torque: [] as { x: number; y: number }[] };
    for (const r of readings) {
      const t = telemetryOf(r);
      if (!t) continue;
      const x = Number(r.timestamp);
      temps.air.push({ x, y: t.airTempK });
      temps.process.push({ x, y: t.processTempK });
      mech.rpm.push({ x, y: t.rpm });
      mech.torque.push({ x, y: t.torqueNm });
    }
    return { temps, mech };
  }, [readings]);

  const riskPoints = useMemo(
    () => (risk.value?.points ?? []).filter((p) => p.riskBps !== null).map((p) => ({ x: Number(p.timestamp), y: p.riskBps! / 100 })),
    [risk.value],
  );
  const alertMarkers: ChartMarker[] = (risk.value?.alerts ?? []).map((a) => ({
    x: Number(a.timestamp),
    label: `${a.state} at ${(a.riskBps / 100).toFixed(0)} % (seq ${a.seq})`,
    color: a.state === "raised" ? "#dc2626" : "#059669",
  }));

  if (!device) {
    return (
      <section data-testid="device-page">
        <h1>Device</h1>
        <p role="alert" className="error">
          &quot;{params.address}&quot; is not a device address (0x and 40 hex digits). <Link to="/devices">Back to the devices</Link>
        </p>
      </section>
    );
  }

  const d = record.value;
  const status = d ? enumName(DeviceStatus, d.status) : undefined;
  const anchorItems = anchorTimeline(readings, batchAnchors.value ?? []);
  const latestAlert = risk.value?.alerts.at(-1);

  return (
    <div data-testid="device-page" data-device={device}>
      <section>
        <p>
          <Link to="/devices">← Devices</Link>
        </p>
        <h1>
          Device <Address value={device} testId="device-address" />
        </h1>
        {record.error !== undefined && <ErrorText error={record.error} />}
        {d && status === "None" && <p className="error">This address is not a registered device.</p>}
        {d && status !== "None" && (
          <dl className="facts" data-testid="device-facts">
            <dt>Status</dt>
            <dd>
              <Badge tone={statusTone({ status: status!, adminHold: d.adminHold })} testId="device-status">
                {status}
                {d.adminHold ? " (admin hold)" : ""}
              </Badge>
            </dd>
            <dt>Owner</dt>
            <dd>
              <Address value={d.owner} />
              {wallet.account && d.owner === wallet.account && " (you)"}
            </dd>
            <dt>Sensor schema</dt>
            <dd>{sensorSchemaName(d.sensorSchema)}</dd>
            <dt>Registered</dt>
            <dd>
              <Time t={d.registeredAt} now={now} />
            </dd>
            <dt>Metadata</dt>
            <dd>
              <code>{d.metadataURI}</code>
            </dd>
            <dt>At the gateway</dt>
            <dd data-testid="device-gateway-summary">
              {summary.value
                ? `${summary.value.readings} readings stored, last seq ${summary.value.lastSeq}, last received ${summary.value.lastReceivedAt}` +
                  (summary.value.equivocations > 0 ? `, ${summary.value.equivocations} equivocations` : "") +
                  (Object.keys(summary.value.rejections).length > 0
                    ? `; refused: ${Object.entries(summary.value.rejections)
                        .map(([k, v]) => `${k} ${v}`)
                        .join(", ")}`
                    : "")
                : summary.error !== undefined
                  ? errorSentence(summary.error, explain)
                  : summary.loading
                    ? "…"
                    : "nothing stored for this device"}
            </dd>
          </dl>
        )}
      </section>

      <section aria-labelledby="telemetry-heading">
        <div className="row">
          <h2 id="telemetry-heading">Live telemetry</h2>
          <label>
            Window{" "}
            <select value={windowSeconds} onChange={(e) => setWindowSeconds(Number(e.target.value))} data-testid="telemetry-window">
              {WINDOWS.map((w) => (
                <option key={w.seconds} value={w.seconds}>
                  last {w.label}
                </option>
              ))}
            </select>
          </label>
          <span className="muted" aria-live="polite" data-testid="telemetry-count">
            {live.loaded ? `${readings.length} readings, updated every ${POLL_MS / 1000} s` : "loading…"}
          </span>
        </div>
        {live.error !== undefined && <ErrorText error={live.error} testId="telemetry-error" />}
        {!live.loaded && <Loading what="Loading readings from the gateway" />}
        {live.loaded && (
          <>
            <Chart
              title="Temperatures (K)"
              testId="telemetry-chart"
              series={[
                { id: "air", label: "Air temperature", points: series.temps.air },
                { id: "process", label: "Process temperature", points: series.temps.process },
              ]}
              yLabel="K"
              xLabel="time (UTC)"
            />
            <Chart
              title="Rotational speed (rpm) and torque (Nm)"
              testId="mechanics-chart"
              series={[
                { id: "rpm", label: "Speed (rpm)", points: series.mech.rpm, color: "#059669" },
                { id: "torque", label: "Torque (Nm)", points: series.mech.torque, axis: "right", color: "#d97706" },
              ]}
              yLabel="rpm"
              yRightLabel="Nm"
              xLabel="time (UTC)"
            />
          </>
        )}
      </section>

      <section aria-labelledby="risk-heading" data-testid="risk-section">
        <h2 id="risk-heading">Failure risk (the gateway&apos;s AI monitor)</h2>
        {risk.error !== undefined && <ErrorText error={risk.error} testId="risk-error" />}
        {risk.value === undefined && risk.error === undefined && !risk.loading && (
          <p className="muted">This app has no monitor feed configured (monitorUrl in config.json).</p>
        )}
        {risk.value && (
          <>
            <p>
              {latestAlert?.state === "raised" ? (
                <Badge tone="bad" testId="risk-state">
                  Alert raised: {(latestAlert.riskBps / 100).toFixed(0)} % ({latestAlert.modes.join(", ") || "failure"})
                </Badge>
              ) : (
                <Badge tone="ok" testId="risk-state">
                  No alert
                </Badge>
              )}{" "}
              <span className="muted">
                model <code title={risk.value.modelHash}>{risk.value.modelHash.slice(0, 10)}…</code>; an alert is raised at{" "}
                {risk.value.thresholds.raiseAtBps / 100} % and cleared below {risk.value.thresholds.clearAtBps / 100} % for{" "}
                {risk.value.thresholds.clearAfter} readings
              </span>
            </p>
            <Chart
              title="Failure risk per reading (%)"
              testId="risk-chart"
              series={[{ id: "risk", label: "Failure risk (%)", points: riskPoints, color: "#7c3aed" }]}
              thresholds={[
                { y: risk.value.thresholds.raiseAtBps / 100, label: "raise" },
                { y: risk.value.thresholds.clearAtBps / 100, label: "clear", color: "#059669" },
              ]}
              markers={alertMarkers}
              yDomain={[0, 100]}
              yLabel="%"
              xLabel="time (UTC)"
            />
            <h3>Alerts</h3>
            {risk.value.alerts.length === 0 ? (
              <p className="muted" data-testid="alerts-empty">
                No alert since the feed started.
              </p>
            ) : (
              <ul className="plain" data-testid="alerts-list">
                {[...risk.value.alerts].reverse().map((a) => (
                  <li key={`${a.seq}-${a.state}`}>
                    <Badge tone={a.state === "raised" ? "bad" : "ok"}>{a.state}</Badge> at <Time t={Number(a.timestamp)} /> (seq {a.seq}),
                    risk {(a.riskBps / 100).toFixed(1)} %{a.modes.length > 0 && `, modes ${a.modes.join(", ")}`}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </section>

      <section aria-labelledby="anchors-heading">
        <h2 id="anchors-heading">Anchors</h2>
        <p className="muted">Each anchor is a Merkle root recorded on-chain: every reading under it provably existed by its block time.</p>
        {batchAnchors.error !== undefined && <ErrorText error={batchAnchors.error} />}
        {anchorItems.length === 0 ? (
          <p className="muted" data-testid="anchors-empty">
            No anchor of this device&apos;s readings in the window yet.
          </p>
        ) : (
          <>
            <Timeline
              label="Anchors of this device's readings, newest first"
              items={allAnchors ? anchorItems : anchorItems.slice(0, SHOWN_ANCHORS)}
              now={now}
              testId="anchors-timeline"
            />
            {anchorItems.length > SHOWN_ANCHORS && (
              <button type="button" className="link" onClick={() => setAllAnchors((v) => !v)} aria-expanded={allAnchors}>
                {allAnchors ? "Show the latest only" : `Show all ${anchorItems.length} anchors in the window`}
              </button>
            )}
          </>
        )}
      </section>

      <RecentReadings readings={readings} />
    </div>
  );
}

function anchorTimeline(
  readings: readonly GatewayReading[],
  batches: { root: string; fromSeq: bigint; toSeq: bigint; anchoredAt: bigint; by: string; blockNumber: number }[],
): TimelineItem[] {
  const groups = new Map<string, { anchor: NonNullable<GatewayReading["anchor"]>; seqs: bigint[] }>();
  for (const r of readings) {
    if (!r.anchor) continue;
    const g = groups.get(r.anchor.root) ?? { anchor: r.anchor, seqs: [] };
    g.anchor = r.anchor;
    g.seqs.push(BigInt(r.seq));
    groups.set(r.anchor.root, g);
  }
  const fleet = [...groups.values()].map(({ anchor, seqs }) => {
    const at = anchor.anchoredAt ? Math.floor(Date.parse(anchor.anchoredAt) / 1000) : undefined;
    return {
      sort: at ?? Number.MAX_SAFE_INTEGER,
      item: {
        key: anchor.root,
        testId: `anchor-${anchor.root}`,
        state: anchor.status === "confirmed" ? "done" : "current",
        title: (
          <>
            Fleet anchor <code title={anchor.root}>{anchor.root.slice(0, 10)}…</code>: {seqs.length} readings of this device (seq{" "}
            {seqs[0].toString()}–{seqs[seqs.length - 1].toString()})
          </>
        ),
        time: at ?? "pending: waiting for its block",
        detail: (
          <span className="muted">
            {anchor.status === "confirmed" ? `block ${anchor.blockNumber}` : "sent by the gateway, not confirmed yet"}
            {anchor.gateway && (
              <>
                {" "}
                · gateway <Address value={anchor.gateway} copy={false} />
              </>
            )}
            {anchor.txHash && (
              <>
                {" "}
                · tx <code title={anchor.txHash}>{anchor.txHash.slice(0, 10)}…</code>
              </>
            )}
          </span>
        ),
      } satisfies TimelineItem,
    };
  });
  const own = batches.map((b) => ({
    sort: Number(b.anchoredAt),
    item: {
      key: b.root,
      testId: `anchor-${b.root}`,
      state: "done",
      title: (
        <>
          Batch anchor <code title={b.root}>{b.root.slice(0, 10)}…</code>: seq {b.fromSeq.toString()}–{b.toSeq.toString()}
        </>
      ),
      time: b.anchoredAt,
      detail: (
        <span className="muted">
          block {b.blockNumber} · by <Address value={b.by} copy={false} />
        </span>
      ),
    } satisfies TimelineItem,
  }));
  return [...fleet, ...own].sort((a, b) => b.sort - a.sort).map((x) => x.item);
}

function RecentReadings({ readings }: { readings: readonly GatewayReading[] }) {
  const config = useConfig();
  const { registry } = useContracts();
  const explain = useExplainContext();
  const [checking, setChecking] = useState<string>();
  const [result, setResult] = useState<{ seq: string; verification?: ReadingVerification; error?: string }>();
  const recent = readings.slice(-10).reverse();
  const verify = async (r: GatewayReading) => {
    setChecking(r.seq);
    setResult(undefined);
    try {
      setResult({ seq: r.seq, verification: await verifyGatewayReading(config, registry, r) });
    } catch (err) {
      setResult({ seq: r.seq, error: errorSentence(err, explain) });
    } finally {
      setChecking(undefined);
    }
  };
  return (
    <section aria-labelledby="readings-heading">
      <h2 id="readings-heading">Recent readings</h2>
      <p className="muted">
        &quot;Verify&quot; checks a reading here, in your browser (the device&apos;s signature, the Merkle proof to its anchor), then asks
        the chain (DeviceRegistry.verifyFleetReading).
      </p>
      {recent.length === 0 ? (
        <p className="muted">No reading in the window.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="readings-table">
            <caption className="visually-hidden">The ten latest readings</caption>
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Time</th>
                <th scope="col">Telemetry</th>
                <th scope="col">Anchor</th>
                <th scope="col">
                  <span className="visually-hidden">Verify</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {recent.map((r) => {
                const t = telemetryOf(r);
                return (
                  <tr key={r.seq} data-testid={`reading-row-${r.seq}`}>
                    <td>{r.seq}</td>
                    <td>
                      <Time t={Number(r.timestamp)} />
                    </td>
                    <td>
                      {t
                        ? `${t.airTempK.toFixed(1)} K / ${t.processTempK.toFixed(1)} K, ${t.rpm} rpm, ${t.torqueNm.toFixed(1)} Nm, wear ${t.toolWearMin} min`
                        : r.values.join(", ")}
                    </td>
                    <td>{r.anchor ? (r.anchor.status === "confirmed" ? "confirmed" : "pending") : "not yet"}</td>
                    <td>
                      <button
                        type="button"
                        onClick={() => void verify(r)}
                        disabled={checking !== undefined}
                        aria-label={`Verify reading ${r.seq}`}
                        data-testid={`verify-reading-${r.seq}`}
                      >
                        {checking === r.seq ? "Verifying…" : "Verify"}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div aria-live="polite" data-testid="verify-result" data-ok={result?.verification ? String(result.verification.ok) : undefined}>
        {result?.error && (
          <p role="alert" className="error">
            Reading {result.seq}: {result.error}
          </p>
        )}
        {result?.verification && (
          <div className="card">
            <h3>
              Reading {result.seq}:{" "}
              {result.verification.ok ? <Badge tone="ok">verified</Badge> : <Badge tone="warn">not fully verified</Badge>}
            </h3>
            <ul className="plain">
              {(
                [
                  ["signature", "In the browser: signature", result.verification.signature],
                  ["proof", "In the browser: Merkle proof", result.verification.proof],
                  ["onchain", "On-chain", result.verification.onChain],
                ] as const
              ).map(([id, label, check]) =>
                check ? (
                  <li key={id} data-testid={`verify-${id}`} data-ok={String(check.ok)}>
                    {check.ok ? "✔" : "✘"} <strong>{label}</strong>: {check.text}
                  </li>
                ) : null,
              )}
            </ul>
          </div>
        )}
      </div>
    </section>
  );
}
