import "../insurance/pages.css";
import { useMemo, useState } from "react";
import type { PageProps } from "../App.tsx";
import { formatDuration, getListingDetails, purchaseListing } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useConfig } from "../lib/config.ts";
import { useChainNow, useContracts } from "../lib/contracts.tsx";
import { Link } from "../lib/router.ts";
import { TxButton } from "../lib/tx.tsx";
import { Address, Badge, ErrorText, Loading, Time } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { MARKET_LINKS, NeedsAccount, SubNav, preflight, useScanRange, useTokens } from "../insurance/shared.tsx";
import { KeyStore } from "./keys.ts";
import { KeysPanel } from "./KeysPanel.tsx";

/** One listing (`triad market:show`): its devices, anchors, terms and price; buy it with a key made in this browser. */
export default function ListingPage({ params }: PageProps) {
  const config = useConfig();
  const { market, registry } = useContracts();
  const { account } = useWallet();
  const now = useChainNow();
  const tokens = useTokens();
  const range = useScanRange();
  const listingId = /^\d+$/.test(params.id) ? BigInt(params.id) : undefined;
  const details = useAsync(
    async () => (listingId === undefined ? undefined : getListingDetails(market, registry, await range(), listingId)),
    [market, registry, range, listingId],
  );
  const keys = useMemo(() => (account ? new KeyStore(config.chainId, account) : undefined), [config.chainId, account]);
  const [bought, setBought] = useState<bigint>();
  if (listingId === undefined) return <p className="error">"{params.id}" is not a listing number.</p>;
  const l = details.value;
  const mine = l && account && l.seller.toLowerCase() === account.toLowerCase();

  return (
    <section aria-labelledby="listing-heading" data-testid="listing-page">
      <SubNav label="Marketplace" links={MARKET_LINKS} current="" />
      <h1 id="listing-heading">
        Listing #{listingId.toString()}{" "}
        {l && (
          <Badge tone={l.status === "Active" ? "ok" : "neutral"} testId="listing-status">
            {l.status}
          </Badge>
        )}
      </h1>
      <ErrorText error={details.error} testId="listing-error" />
      {!l && !details.error && <Loading what="Reading the listing" />}
      {l && (
        <>
          <dl className="facts" data-testid="listing-facts">
            <dt>What</dt>
            <dd data-testid="listing-kind">
              {l.kind === "Dataset" ? "a dataset of signed readings" : l.kind === "Stream" ? "a live stream of signed readings" : "a model"}
            </dd>
            <dt>Price</dt>
            <dd data-testid="listing-price">
              {tokens(l.price)}
              {l.kind === "Stream" && ` per ${formatDuration(l.period)} of access`}
            </dd>
            <dt>Seller</dt>
            <dd>
              <Address value={l.seller} />
            </dd>
            <dt>Delivery</dt>
            <dd>the seller delivers the key within {formatDuration(l.deliveryWindow)} of a purchase, else you can take a full refund</dd>
            <dt>Terms</dt>
            <dd>
              hash <Address value={l.termsHash} />
            </dd>
            <dt>Content</dt>
            <dd>
              hash <Address value={l.contentHash} /> (what you receive is checked against it), file at{" "}
              <code className="wrap">{l.metadataURI}</code>
            </dd>
            <dt>Purchases</dt>
            <dd>
              {l.purchases.total} ({l.purchases.pending} waiting for delivery, {l.purchases.delivered} delivered, {l.purchases.refunded}{" "}
              refunded)
            </dd>
          </dl>

          <h2>Devices</h2>
          <ul className="plain" data-testid="listing-devices">
            {l.deviceRecords.map((d) => (
              <li key={d.device}>
                <Link to={`/devices/${d.device}`}>
                  <Address value={d.device} copy={false} />
                </Link>{" "}
                <Badge tone={d.status === "Active" ? "ok" : "warn"}>{d.status}</Badge> {d.sensorSchema}, owner{" "}
                <Address value={d.owner} copy={false} />
              </li>
            ))}
          </ul>

          <h2>Anchors</h2>
          {l.anchors.length === 0 ? (
            <p className="muted" data-testid="listing-no-anchors">
              No anchored batches attached
              {l.kind === "Stream" ? ": every streamed reading is checked against its device's signature as it arrives" : ""}.
            </p>
          ) : (
            <div className="table-wrap">
              <table data-testid="listing-anchors">
                <caption className="visually-hidden">Anchored batches the readings are verified against</caption>
                <thead>
                  <tr>
                    <th scope="col">Root</th>
                    <th scope="col">Device</th>
                    <th scope="col">Readings (seq)</th>
                    <th scope="col">Anchored</th>
                  </tr>
                </thead>
                <tbody>
                  {l.anchors.map((a) => (
                    <tr key={`${a.device}-${a.root}`}>
                      <td>
                        <Address value={a.root} />
                      </td>
                      <td>
                        <Address value={a.device} copy={false} />
                      </td>
                      <td>
                        {a.readings.toString()} ({a.fromSeq.toString()}..{a.toSeq.toString()})
                      </td>
                      <td>
                        <Time t={a.anchoredAt} now={now} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}

          <h2 id="buy-heading">Buy</h2>
          {!account && <NeedsAccount what="buy this listing" />}
          {account && mine && <p className="muted">You are the seller of this listing.</p>}
          {account && keys && !mine && (
            <div className="card" aria-labelledby="buy-heading">
              <p>
                The seller delivers the content key encrypted to an encryption key pair made in this browser (not your wallet's key). It is
                kept here and you can export it: without it, what you bought cannot be decrypted.
              </p>
              <TxButton
                label={`Buy for ${tokens(l.price)}`}
                testId="listing-buy"
                title={`Buy listing #${listingId} for ${tokens(l.price)}`}
                description={
                  <p>
                    {tokens(l.price)} goes into escrow (an approval of the token first when the allowance is short) and is released to the
                    seller when the key is delivered, by {formatDuration(l.deliveryWindow)} from now; otherwise you can take it back. A
                    price raise landing first makes the purchase fail rather than cost more.
                  </p>
                }
                disabled={l.status !== "Active"}
                disabledReason="the listing is not active"
                run={async ({ contracts }) => {
                  const buyerPublicKey = keys.buyerKey().publicKey;
                  await preflight(() => contracts.market.purchase.staticCall(listingId, l.price, buyerPublicKey));
                  return purchaseListing(contracts.market, contracts.token, { listingId, buyerPublicKey, maxPrice: l.price });
                }}
                result={(r) => (
                  <>
                    Purchase #{r.purchaseId.toString()}: {tokens(r.amount)} in escrow; delivery due <Time t={r.deliverBy} />.
                  </>
                )}
                onDone={(r) => {
                  setBought(r.purchaseId);
                  details.reload();
                }}
              />
              {bought !== undefined && (
                <p className="ok" data-testid="listing-bought">
                  <Link to="/market/purchases">Purchase #{bought.toString()}: follow it in My purchases</Link>
                </p>
              )}
              <KeysPanel store={keys} />
            </div>
          )}
        </>
      )}
    </section>
  );
}
