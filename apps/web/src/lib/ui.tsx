import { useState, type ReactNode } from "react";
import { formatTimestamp, formatTokens, type TokenInfo } from "@triad/sdk";
import { useChainInfo, useExplainContext } from "./contracts.tsx";
import { errorSentence } from "./errors.ts";

/** Small display components shared by every page. */

/** An address or hash, shortened ("0x1234…abcd") with the full value as a tooltip and a copy button. */
export function Address({ value, full = false, copy = true, testId }: { value: string; full?: boolean; copy?: boolean; testId?: string }) {
  const [copied, setCopied] = useState(false);
  const short = full || value.length <= 14 ? value : `${value.slice(0, 6)}…${value.slice(-4)}`;
  return (
    <span className="address" data-testid={testId} data-value={value}>
      <code title={value}>{short}</code>
      {copy && (
        <button
          type="button"
          className="link"
          aria-label={`Copy ${value}`}
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(() => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            });
          }}
        >
          {copied ? "copied" : "copy"}
        </button>
      )}
    </span>
  );
}

/** A token amount in whole tokens with the symbol ("12.5 tUSD"), from base units; the deployment's token by default. */
export function Amount({ units, token, testId }: { units: bigint; token?: TokenInfo; testId?: string }) {
  const info = useChainInfo();
  return (
    <span className="amount" data-testid={testId} data-units={units.toString()}>
      {formatTokens(units, token ?? info.token)}
    </span>
  );
}

/** A unix time as an ISO date, with its distance from `now` (chain time) when given. */
export function Time({ t, now }: { t: bigint | number; now?: bigint | number }) {
  const n = Number(t);
  return <time dateTime={n > 0 ? new Date(n * 1000).toISOString() : undefined}>{formatTimestamp(t, now)}</time>;
}

/** An error as one sentence (role=alert), with the SDK's contract-error mapping. */
export function ErrorText({ error, testId = "error" }: { error: unknown; testId?: string }) {
  const ctx = useExplainContext();
  if (error === undefined || error === null) return null;
  return (
    <p role="alert" className="error" data-testid={testId}>
      {errorSentence(error, ctx)}
    </p>
  );
}

/** A "loading" line that screen readers announce. */
export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p aria-busy="true" aria-live="polite" className="muted">
      {what}…
    </p>
  );
}

/** A status pill ("Active", "Paid"…), coloured by tone. */
export function Badge({
  children,
  tone = "neutral",
  testId,
}: {
  children: ReactNode;
  tone?: "neutral" | "ok" | "warn" | "bad";
  testId?: string;
}) {
  return (
    <span className={`badge ${tone}`} data-testid={testId}>
      {children}
    </span>
  );
}

export interface TimelineItem {
  key: string;
  title: ReactNode;
  /** When (a unix time is formatted by <Time>; any node otherwise). */
  time?: bigint | number | ReactNode;
  detail?: ReactNode;
  state: "done" | "current" | "pending" | "failed";
  testId?: string;
}

/** A vertical timeline (an ordered list): a claim's trail, a device's anchors. */
export function Timeline({ items, label, now, testId }: { items: readonly TimelineItem[]; label: string; now?: bigint; testId?: string }) {
  return (
    <ol className="timeline" aria-label={label} data-testid={testId}>
      {items.map((item) => (
        <li key={item.key} className={`timeline-${item.state}`} data-state={item.state} data-testid={item.testId}>
          <span className="timeline-dot" aria-hidden="true" />
          <div>
            <strong>{item.title}</strong>
            <span className="visually-hidden"> ({item.state})</span>
            {item.time !== undefined && (
              <div className="muted">
                {typeof item.time === "bigint" || typeof item.time === "number" ? <Time t={item.time} now={now} /> : item.time}
              </div>
            )}
            {item.detail && <div>{item.detail}</div>}
          </div>
        </li>
      ))}
    </ol>
  );
}
