import "../insurance/pages.css";
import { useEffect, useRef, useState } from "react";
import type { PageProps } from "../App.tsx";
import { subscribeToStream, type SignedReading, type StreamEnd, type StreamSubscription } from "@triad/sdk";
import { useConfig } from "../lib/config.ts";
import { useExplainContext } from "../lib/contracts.tsx";
import { errorSentence } from "../lib/errors.ts";
import { Link } from "../lib/router.ts";
import { Address, Badge } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { ReadingsChart } from "../insurance/ReadingsChart.tsx";
import { MARKET_LINKS, NeedsAccount, SubNav } from "../insurance/shared.tsx";

/** Readings kept on screen (the newest). */
const KEEP = 600;

type Phase = "idle" | "connecting" | "open" | "ended" | "failed";

/**
 * The live view of a Stream listing I bought: the SDK's `subscribeToStream` asks the gateway for a challenge, the
 * wallet signs it (no transaction), and every reading whose device signature verifies in this browser arrives on the
 * chart as it is published; readings that do not verify are counted, never shown.
 */
export default function StreamPage({ params }: PageProps) {
  const config = useConfig();
  const { account, signer } = useWallet();
  const explain = useExplainContext();
  const [phase, setPhase] = useState<Phase>("idle");
  const [error, setError] = useState<string>();
  const [readings, setReadings] = useState<SignedReading[]>([]);
  const [invalid, setInvalid] = useState(0);
  const [end, setEnd] = useState<StreamEnd>();
  const [devices, setDevices] = useState<string[]>([]);
  const [replay, setReplay] = useState(true);
  const sub = useRef<StreamSubscription | undefined>(undefined);
  useEffect(() => () => sub.current?.close(), []);
  const listingId = /^\d+$/.test(params.id) ? BigInt(params.id) : undefined;

  const start = async () => {
    if (!signer || listingId === undefined || !config.gatewayUrl) return;
    sub.current?.close();
    setPhase("connecting");
    setError(undefined);
    setEnd(undefined);
    setReadings([]);
    setInvalid(0);
    try {
      const s = await subscribeToStream({
        gatewayUrl: config.gatewayUrl,
        listingId,
        signer,
        since: replay ? 0n : undefined,
        expect: { chainId: BigInt(config.chainId), marketplace: config.deployment.contracts.DataMarketplace },
        onReading: ({ reading }) => setReadings((list) => [...list.slice(-(KEEP - 1)), reading]),
        onInvalidReading: () => setInvalid((n) => n + 1),
        onEnd: (e) => {
          setEnd(e);
          setPhase("ended");
        },
      });
      sub.current = s;
      setDevices(s.info.devices ?? []);
      setPhase((p) => (p === "ended" ? p : "open"));
    } catch (err) {
      setError(errorSentence(err, explain));
      setPhase("failed");
    }
  };

  if (listingId === undefined) return <p className="error">"{params.id}" is not a listing number.</p>;
  return (
    <section aria-labelledby="stream-heading" data-testid="stream-page">
      <SubNav label="Marketplace" links={MARKET_LINKS} current="" />
      <h1 id="stream-heading">
        Live stream of <Link to={`/market/listings/${listingId}`}>listing #{listingId.toString()}</Link>{" "}
        <Badge tone={phase === "open" ? "ok" : phase === "failed" ? "bad" : "neutral"} testId="stream-phase">
          {phase === "open" ? "live" : phase}
        </Badge>
      </h1>
      {!account && <NeedsAccount what="open a stream you subscribed to" />}
      {!config.gatewayUrl && <p className="error">This app has no gateway configured (gatewayUrl in config.json).</p>}
      <p className="muted">
        Opening the stream asks your wallet to sign a one-time challenge (no transaction, no cost): the gateway checks with the marketplace
        that your account has access now.
      </p>
      <div className="row">
        <label>
          <input type="checkbox" checked={replay} onChange={(e) => setReplay(e.target.checked)} data-testid="stream-replay" /> replay the
          stored readings first
        </label>
        {phase === "open" || phase === "connecting" ? (
          <button type="button" onClick={() => sub.current?.close()} data-testid="stream-stop">
            Stop
          </button>
        ) : (
          <button
            type="button"
            className="primary"
            onClick={() => void start()}
            disabled={!signer || !config.gatewayUrl}
            data-testid="stream-start"
          >
            Open the live stream
          </button>
        )}
      </div>
      <div aria-live="polite" data-testid="stream-status">
        {phase === "connecting" && <p aria-busy="true">Signing the challenge and connecting…</p>}
        {error && (
          <p className="error" role="alert" data-testid="stream-error">
            {error}
          </p>
        )}
        {end && (
          <p data-testid="stream-end">
            The stream ended: {end.reason}
            {end.detail ? ` (${end.detail})` : ""}.
          </p>
        )}
      </div>
      {devices.length > 0 && (
        <p>
          Devices:{" "}
          {devices.map((d) => (
            <Address key={d} value={d} copy={false} />
          ))}
        </p>
      )}
      <p data-testid="stream-count" data-count={readings.length}>
        {readings.length} reading{readings.length === 1 ? "" : "s"} received, each signature verified in this browser
        {invalid > 0 && `; ${invalid} refused (not verifiable)`}.
      </p>
      {readings.length > 0 && (
        <ReadingsChart title={`Live readings of listing ${listingId}`} readings={readings} testId="stream-readings" />
      )}
    </section>
  );
}
