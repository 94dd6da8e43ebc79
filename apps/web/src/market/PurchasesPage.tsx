import "../insurance/pages.css";
import { useMemo, useState } from "react";
import type { PageProps } from "../App.tsx";
import { deviceRegistryDomain, TriadError } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useConfig } from "../lib/config.ts";
import { useChainNow, useContracts, useExplainContext } from "../lib/contracts.tsx";
import { errorSentence } from "../lib/errors.ts";
import { Link } from "../lib/router.ts";
import { TxButton } from "../lib/tx.tsx";
import { Address, Badge, ErrorText, Loading, Time } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { fetchContentBytes } from "../insurance/evidence.ts";
import { ReadingsChart } from "../insurance/ReadingsChart.tsx";
import { MARKET_LINKS, NeedsAccount, SubNav, preflight, useScanRange, useTokens } from "../insurance/shared.tsx";
import { myPurchases, openPurchase, type MyPurchase, type OpenedPurchase } from "./data.ts";
import { KeyStore, downloadBytes } from "./keys.ts";
import { KeysPanel } from "./KeysPanel.tsx";

type OpenState =
  | { phase: "idle" }
  | { phase: "opening" }
  | { phase: "opened"; result: OpenedPurchase }
  | { phase: "failed"; error: string; needsFile?: boolean };

/** One delivered purchase: decrypt in the browser, verify, download; a stream's manifest and its live view. */
function DeliveredPurchase({ p, keys }: { p: MyPurchase; keys: KeyStore }) {
  const config = useConfig();
  const { market, registry } = useContracts();
  const explain = useExplainContext();
  const [state, setState] = useState<OpenState>({ phase: "idle" });
  const key = keys.buyerKeyFor(p.buyerPublicKey);

  const open = async (file?: Uint8Array) => {
    setState({ phase: "opening" });
    let needsFile = false;
    try {
      if (!key)
        throw new TriadError("this purchase was made with an encryption key this browser does not hold: import your key file", "NO_KEY");
      const listing = await market.getListing(p.listingId);
      let encrypted = file;
      if (!encrypted) {
        try {
          encrypted = await fetchContentBytes(listing.metadataURI, { evidenceUrl: config.evidenceUrl });
        } catch (err) {
          needsFile = true;
          throw err;
        }
      }
      const result = await openPurchase({
        market,
        registry,
        domain: deviceRegistryDomain(config.chainId, await registry.getAddress()),
        listingId: p.listingId,
        kind: p.kind,
        contentHash: listing.contentHash,
        buyerPrivateKey: key.privateKey,
        encryptedKey: p.encryptedKey!,
        encryptedFile: encrypted,
      });
      setState({ phase: "opened", result });
    } catch (err) {
      setState({ phase: "failed", error: errorSentence(err, explain), needsFile });
    }
  };

  const result = state.phase === "opened" ? state.result : undefined;
  return (
    <div data-testid={`purchase-${p.purchaseId}-delivered`}>
      <button
        type="button"
        className="primary"
        onClick={() => void open()}
        disabled={state.phase === "opening"}
        data-testid={`purchase-${p.purchaseId}-open`}
      >
        Decrypt and verify
      </button>
      <div aria-live="polite">
        {state.phase === "opening" && <p aria-busy="true">Decrypting and verifying…</p>}
        {state.phase === "failed" && (
          <>
            <p className="error" role="alert" data-testid={`purchase-${p.purchaseId}-error`}>
              {state.error}
            </p>
            {state.needsFile && (
              <label>
                Load the encrypted file (.trd){" "}
                <input
                  type="file"
                  onChange={(e) => void e.target.files?.[0]?.arrayBuffer().then((b) => open(new Uint8Array(b)))}
                  data-testid={`purchase-${p.purchaseId}-file`}
                />
              </label>
            )}
          </>
        )}
      </div>
      {result && (
        <div data-testid={`purchase-${p.purchaseId}-opened`} data-kind={result.kind}>
          <p className="ok">Decrypted {result.plaintext.length} bytes; keccak256 matches the listing's content hash.</p>
          {result.kind === "Dataset" && (
            <>
              <p data-testid={`purchase-${p.purchaseId}-verified`} data-valid={result.valid ? "true" : "false"}>
                {result.valid ? (
                  <Badge tone="ok">
                    all {result.readings} readings verified: device signatures, Merkle proofs (here and by the registry's verifyReading),
                    roots anchored and attached to the listing
                  </Badge>
                ) : (
                  <Badge tone="bad">some readings failed verification</Badge>
                )}
              </p>
              <ul className="plain">
                {result.batches.map((b) => (
                  <li key={b.root}>
                    root <Address value={b.root} copy={false} /> of <Address value={b.device} copy={false} />: {b.readings.length} readings,
                    anchored <Time t={b.anchoredAt} /> {b.valid ? "✓" : `✗ ${b.failures.map((f) => f.reason).join("; ")}`}
                  </li>
                ))}
              </ul>
              <ReadingsChart
                title={`Readings of purchase ${p.purchaseId}`}
                readings={result.batches.flatMap((b) => b.readings)}
                testId={`purchase-${p.purchaseId}-readings`}
              />
              <button
                type="button"
                onClick={() => downloadBytes(`triad-listing-${p.listingId}.json`, result.plaintext, "application/json")}
                data-testid={`purchase-${p.purchaseId}-download`}
              >
                Download the dataset
              </button>
            </>
          )}
          {result.kind === "Stream" && (
            <p>
              Stream of {result.manifest.devices.length} device{result.manifest.devices.length === 1 ? "" : "s"} at{" "}
              {result.manifest.gateway}.{" "}
              <Link to={`/market/streams/${p.listingId}`} data-testid={`purchase-${p.purchaseId}-live`}>
                Open the live view
              </Link>
            </p>
          )}
          {result.kind === "Model" && (
            <button
              type="button"
              onClick={() => downloadBytes(`triad-listing-${p.listingId}.bin`, result.plaintext)}
              data-testid={`purchase-${p.purchaseId}-download`}
            >
              Download the model
            </button>
          )}
        </div>
      )}
    </div>
  );
}

/** My purchases (`triad market:purchases`, `market:access`, `market:refund`). */
export default function PurchasesPage(_props: PageProps) {
  const config = useConfig();
  const { market } = useContracts();
  const { account } = useWallet();
  const now = useChainNow();
  const tokens = useTokens();
  const range = useScanRange();
  const keys = useMemo(() => (account ? new KeyStore(config.chainId, account) : undefined), [config.chainId, account]);
  const [, setImported] = useState(0);
  const [refunded, setRefunded] = useState<Set<bigint>>(new Set());
  const purchases = useAsync(
    async () => (account ? myPurchases(market, await range(), account) : undefined),
    [market, range, account],
    5_000,
  );

  return (
    <section aria-labelledby="purchases-heading" data-testid="purchases-page">
      <SubNav label="Marketplace" links={MARKET_LINKS} current="/market/purchases" />
      <h1 id="purchases-heading">My purchases</h1>
      {!account && <NeedsAccount what="see your purchases" />}
      {keys && <KeysPanel store={keys} onImported={() => setImported((n) => n + 1)} />}
      <ErrorText error={purchases.error} testId="purchases-error" />
      {account && !purchases.value && !purchases.error && <Loading what="Reading your purchases" />}
      {purchases.value?.length === 0 && (
        <p data-testid="no-purchases">
          No purchases yet. <Link to="/market">Browse the listings</Link>.
        </p>
      )}
      <ul className="plain">
        {purchases.value?.map((p) => (
          <li key={p.purchaseId.toString()} className="card" data-testid={`purchase-${p.purchaseId}`} data-status={p.status}>
            <h2>
              Purchase #{p.purchaseId.toString()} of <Link to={`/market/listings/${p.listingId}`}>listing #{p.listingId.toString()}</Link> (
              {p.kind}){" "}
              <Badge
                tone={p.status === "Delivered" ? "ok" : p.status === "Pending" ? "warn" : "neutral"}
                testId={`purchase-${p.purchaseId}-status`}
              >
                {p.status === "Pending" ? "waiting for delivery" : p.status}
              </Badge>
            </h2>
            <p>
              {tokens(p.amount)} {p.status === "Pending" ? "in escrow" : "paid"}; seller <Address value={p.seller} copy={false} />
            </p>
            {(p.status === "Pending" || refunded.has(p.purchaseId)) && keys && (
              <>
                <p aria-live="polite">
                  The seller must deliver the key by <Time t={p.deliverBy} now={now} />; this page checks every few seconds.
                </p>
                <TxButton
                  label="Take a refund"
                  className="secondary"
                  testId={`purchase-${p.purchaseId}-refund`}
                  title={`Refund purchase #${p.purchaseId}`}
                  description={<p>The key was not delivered in time: the {tokens(p.amount)} in escrow comes back to you.</p>}
                  disabled={now === undefined || now <= p.deliverBy || p.status !== "Pending"}
                  disabledReason={p.status !== "Pending" ? "refunded" : "possible once the delivery deadline has passed"}
                  run={async ({ contracts }) => {
                    await preflight(() => contracts.market.refund.staticCall(p.purchaseId));
                    return (await (await contracts.market.refund(p.purchaseId)).wait())!;
                  }}
                  result={() => `Refunded ${tokens(p.amount)}.`}
                  onDone={() => setRefunded((set) => new Set([...set, p.purchaseId]))}
                />
              </>
            )}
            {p.status === "Delivered" && keys && <DeliveredPurchase p={p} keys={keys} />}
          </li>
        ))}
      </ul>
    </section>
  );
}
