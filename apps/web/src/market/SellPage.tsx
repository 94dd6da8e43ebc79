import "../insurance/pages.css";
import { useMemo, useState } from "react";
import type { PageProps } from "../App.tsx";
import {
  anchorReadings,
  createListing,
  deliverContentKey,
  deviceRegistryDomain,
  formatDuration,
  listDevices,
  type DeviceSummary,
  type ListingKindName,
} from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useConfig } from "../lib/config.ts";
import { useChainNow, useContracts, useExplainContext } from "../lib/contracts.tsx";
import { errorSentence } from "../lib/errors.ts";
import { Link } from "../lib/router.ts";
import { TxButton } from "../lib/tx.tsx";
import { Address, ErrorText, Loading, Time } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { Field, MARKET_LINKS, NeedsAccount, SubNav, preflight, useParseTokens, useScanRange, useTokens } from "../insurance/shared.tsx";
import {
  contentKeyBytes,
  fetchDeviceReadings,
  pendingDeliveries,
  prepareDatasetFile,
  prepareStreamFile,
  termsHash,
  type PreparedListingFile,
} from "./data.ts";
import { KeyStore, downloadBytes } from "./keys.ts";
import { KeysPanel } from "./KeysPanel.tsx";

const HOUR = 3_600n;
const DAY = 86_400n;

/** The listing form: a dataset of one device's readings, or a live stream of some of my devices. */
function ListForm({ devices, keys, onListed }: { devices: DeviceSummary[]; keys: KeyStore; onListed: () => void }) {
  const config = useConfig();
  const explain = useExplainContext();
  const tokens = useTokens();
  const parse = useParseTokens();
  const [kind, setKind] = useState<"dataset" | "stream">("dataset");
  const [device, setDevice] = useState(devices[0]?.device ?? "");
  const [streamDevices, setStreamDevices] = useState<string[]>(devices[0] ? [devices[0].device] : []);
  const [count, setCount] = useState("60");
  const [price, setPrice] = useState("25");
  const [periodDays, setPeriodDays] = useState("30");
  const [deliveryHours, setDeliveryHours] = useState("24");
  const [terms, setTerms] = useState("CC BY 4.0");
  const [prepared, setPrepared] = useState<{ file: PreparedListingFile; readings?: Awaited<ReturnType<typeof fetchDeviceReadings>> }>();
  const [prepError, setPrepError] = useState<string>();
  const [preparing, setPreparing] = useState(false);
  const [listed, setListed] = useState<bigint>();
  const [fileUri, setFileUri] = useState("");

  let priceUnits: bigint | undefined;
  let inputError: string | undefined;
  try {
    priceUnits = parse(price, "the price");
    if (priceUnits === 0n) inputError = "the price must be more than 0";
  } catch (err) {
    inputError = (err as Error).message;
  }
  const hours =
    /^\d{1,3}$/.test(deliveryHours) && Number(deliveryHours) >= 1 && Number(deliveryHours) <= 720 ? BigInt(deliveryHours) : undefined;
  if (hours === undefined) inputError ??= "the delivery window must be 1 to 720 hours";
  const period = /^\d{1,4}$/.test(periodDays) && Number(periodDays) >= 1 ? BigInt(periodDays) * DAY : undefined;
  if (kind === "stream" && period === undefined) inputError ??= "the period must be a whole number of days";
  const selected = devices.find((d) => d.device === device);

  const prepare = async () => {
    setPreparing(true);
    setListed(undefined);
    setPrepError(undefined);
    setPrepared(undefined);
    try {
      if (!config.gatewayUrl) throw new Error("this app has no gateway configured (gatewayUrl in config.json)");
      const registry = config.deployment.contracts.DeviceRegistry!;
      if (kind === "dataset") {
        if (!selected) throw new Error("choose one of your devices");
        // A device batch must start at or above the device's nextSeq (earlier seqs are anchored or skipped).
        const readings = (
          await fetchDeviceReadings(config.gatewayUrl, selected.device, Math.max(1, Math.min(1000, Number(count) || 60)))
        ).filter((r) => r.seq >= selected.nextSeq);
        if (readings.length === 0)
          throw new Error(`the gateway holds no reading of ${selected.device} that is not anchored by the device yet`);
        const file = prepareDatasetFile({
          chainId: config.chainId,
          registry,
          domain: deviceRegistryDomain(config.chainId, registry),
          readings,
        });
        setPrepared({ file, readings });
        setFileUri(`file://triad-dataset-${file.contentHash.slice(2, 10)}.trd`);
      } else {
        if (streamDevices.length === 0) throw new Error("choose at least one device");
        const file = prepareStreamFile({ gatewayUrl: config.gatewayUrl, devices: streamDevices });
        setPrepared({ file });
        setFileUri(`file://triad-stream-${file.contentHash.slice(2, 10)}.trd`);
      }
    } catch (err) {
      setPrepError(errorSentence(err, explain));
    } finally {
      setPreparing(false);
    }
  };

  const listingKind: ListingKindName = kind === "dataset" ? "Dataset" : "Stream";
  return (
    <form className="card" onSubmit={(e) => e.preventDefault()} aria-labelledby="list-heading" data-testid="sell-form">
      <h2 id="list-heading">List telemetry for sale</h2>
      <fieldset>
        <legend>What</legend>
        <label>
          <input
            type="radio"
            name="kind"
            checked={kind === "dataset"}
            onChange={() => setKind("dataset")}
            data-testid="sell-kind-dataset"
          />{" "}
          a dataset of one device's readings
        </label>{" "}
        <label>
          <input type="radio" name="kind" checked={kind === "stream"} onChange={() => setKind("stream")} data-testid="sell-kind-stream" /> a
          live stream
        </label>
      </fieldset>
      {kind === "dataset" ? (
        <>
          <Field label="Device">
            {(id) => (
              <select id={id} value={device} onChange={(e) => setDevice(e.target.value)} data-testid="sell-device">
                {devices.map((d) => (
                  <option key={d.device} value={d.device}>
                    {d.device}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Newest readings to include" hint="from the gateway, at most 1000; they are anchored as one batch of the device">
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                inputMode="numeric"
                value={count}
                onChange={(e) => setCount(e.target.value)}
                data-testid="sell-count"
              />
            )}
          </Field>
        </>
      ) : (
        <fieldset>
          <legend>Devices streamed</legend>
          {devices.map((d) => (
            <label key={d.device} className="block">
              <input
                type="checkbox"
                checked={streamDevices.includes(d.device)}
                onChange={(e) => setStreamDevices((list) => (e.target.checked ? [...list, d.device] : list.filter((x) => x !== d.device)))}
                data-testid={`sell-stream-device-${d.device}`}
              />{" "}
              <code>{d.device}</code>
            </label>
          ))}
        </fieldset>
      )}
      <Field label={kind === "stream" ? "Price per period (tokens)" : "Price (tokens)"}>
        {(id) => <input id={id} inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} data-testid="sell-price" />}
      </Field>
      {kind === "stream" && (
        <Field label="Period (days)">
          {(id) => (
            <input
              id={id}
              inputMode="numeric"
              value={periodDays}
              onChange={(e) => setPeriodDays(e.target.value)}
              data-testid="sell-period"
            />
          )}
        </Field>
      )}
      <Field label="Delivery window (hours)" hint="you deliver the key within it after each purchase, else the buyer can take a refund">
        {(id, hint) => (
          <input
            id={id}
            aria-describedby={hint}
            inputMode="numeric"
            value={deliveryHours}
            onChange={(e) => setDeliveryHours(e.target.value)}
            data-testid="sell-delivery"
          />
        )}
      </Field>
      <Field label="Licence terms" hint="their keccak256 is recorded with the listing">
        {(id, hint) => (
          <input id={id} aria-describedby={hint} value={terms} onChange={(e) => setTerms(e.target.value)} data-testid="sell-terms" />
        )}
      </Field>
      {inputError && (
        <p className="error" role="alert">
          {inputError}
        </p>
      )}
      <button type="button" onClick={() => void prepare()} disabled={preparing || inputError !== undefined} data-testid="sell-prepare">
        Prepare and encrypt in this browser
      </button>
      <div aria-live="polite">
        {preparing && <p aria-busy="true">Reading from the gateway and encrypting…</p>}
        {prepError && (
          <p className="error" role="alert" data-testid="sell-prepare-error">
            {prepError}
          </p>
        )}
        {prepared && (
          <p data-testid="sell-prepared">
            {prepared.file.kind === "dataset"
              ? `${prepared.file.readings} readings (seq ${prepared.readings![0].seq}..${prepared.readings![prepared.readings!.length - 1].seq}), batch root `
              : "Stream manifest, "}
            {prepared.file.root && <Address value={prepared.file.root} copy={false} />} content hash{" "}
            <Address value={prepared.file.contentHash} copy={false} />; encrypted with a fresh AES-256 key ({prepared.file.encrypted.length}{" "}
            bytes).
          </p>
        )}
      </div>
      {prepared && (
        <div className="card" data-testid="sell-file">
          <p>
            Buyers need the encrypted file: publish it where they can fetch it (a web server, a pinned IPFS file) and give that URI below,
            or hand it to them. It is useless without the content key, which you deliver to each buyer.
          </p>
          <button
            type="button"
            onClick={() => downloadBytes(fileUri.replace(/^.*\//, "") || "listing.trd", prepared.file.encrypted)}
            data-testid="sell-download-file"
          >
            Download the encrypted file
          </button>
          <Field label="Where buyers get the encrypted file (URI)" hint="recorded with the listing as its metadataURI">
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                value={fileUri}
                onChange={(e) => setFileUri(e.target.value)}
                data-testid="sell-file-uri"
              />
            )}
          </Field>
        </div>
      )}
      {prepared && (
        <TxButton
          label={prepared.file.kind === "dataset" ? "Anchor and list" : "List"}
          testId="sell-list"
          title={`List a ${prepared.file.kind} for ${priceUnits !== undefined ? tokens(priceUnits) : "?"}${kind === "stream" && period ? ` per ${formatDuration(period)}` : ""}`}
          description={
            <p>
              {prepared.file.kind === "dataset" &&
                "First the readings are anchored as one batch of the device (its Merkle root on-chain), so buyers can verify every reading. "}
              The encrypted file is published to the app's store and the listing created; its content key is kept in this browser (export
              it: you need it to deliver each purchase's key).
            </p>
          }
          disabled={inputError !== undefined || fileUri.trim() === "" || listed !== undefined}
          disabledReason={
            listed !== undefined ? "listed: prepare another file to list again" : (inputError ?? "give the encrypted file's URI")
          }
          run={async ({ contracts }) => {
            const file = prepared.file;
            const listingDevices = file.kind === "dataset" ? [prepared.readings![0].device] : streamDevices;
            if (file.kind === "dataset") {
              const readings = prepared.readings!;
              await preflight(() =>
                contracts.registry.anchorBatch.staticCall(
                  readings[0].device,
                  file.root!,
                  readings[0].seq,
                  readings[readings.length - 1].seq,
                  "preflight",
                ),
              );
              await anchorReadings(contracts.registry, {
                domain: deviceRegistryDomain(config.chainId, await contracts.registry.getAddress()),
                readings,
                uri: `${config.gatewayUrl}/v1/devices/${readings[0].device}/readings`,
              });
            }
            const params = {
              kind: listingKind,
              price: priceUnits!,
              period: kind === "stream" ? period! : 0n,
              deliveryWindow: hours! * HOUR,
              contentHash: file.contentHash,
              termsHash: termsHash(terms),
              devices: listingDevices,
              anchors: file.root ? [file.root] : [],
            };
            const kindIndex = listingKind === "Dataset" ? 0 : 1;
            await preflight(() => contracts.market.createListing.staticCall({ ...params, kind: kindIndex, metadataURI: "preflight" }));
            const entry = keys.addContentKey(file.contentHash, file.contentKey);
            const listed = await createListing(contracts.market, { ...params, metadataURI: fileUri.trim() });
            keys.setListing(file.contentHash, entry.key, listed.listingId);
            return listed;
          }}
          result={(r) => `Listing #${r.listingId} created.`}
          onDone={(r) => {
            setListed(r.listingId);
            onListed();
          }}
        />
      )}
      {listed !== undefined && (
        <p className="ok" data-testid="sell-listed">
          <Link to={`/market/listings/${listed}`}>Listing #{listed.toString()}</Link> is on sale.
        </p>
      )}
    </form>
  );
}

/** The seller's view (`triad market:list`, `market:deliver`, `market:withdraw`). */
export default function SellPage(_props: PageProps) {
  const config = useConfig();
  const { market, registry } = useContracts();
  const { account } = useWallet();
  const now = useChainNow();
  const tokens = useTokens();
  const range = useScanRange();
  const keys = useMemo(() => (account ? new KeyStore(config.chainId, account) : undefined), [config.chainId, account]);
  const devices = useAsync(
    async () =>
      account ? (await listDevices(registry, await range(), { owner: account })).filter((d) => d.status === "Active") : undefined,
    [registry, range, account],
  );
  const pending = useAsync(async () => {
    if (!account) return undefined;
    const list = await pendingDeliveries(market, await range(), account);
    const listings = await Promise.all(list.map((p) => market.getListing(p.listingId)));
    return list.map((p, i) => ({ ...p, contentHash: listings[i].contentHash }));
  }, [market, range, account]);
  const [delivered, setDelivered] = useState<Set<bigint>>(new Set());
  const withdrawable = useAsync(async () => (account ? market.withdrawable(account) : undefined), [market, account], 10_000);

  return (
    <section aria-labelledby="sell-heading" data-testid="sell-page">
      <SubNav label="Marketplace" links={MARKET_LINKS} current="/market/sell" />
      <h1 id="sell-heading">Sell</h1>
      {!account && <NeedsAccount what="list your devices' telemetry and deliver keys" />}
      {keys && <KeysPanel store={keys} />}
      <ErrorText error={devices.error} testId="sell-devices-error" />
      {account && !devices.value && !devices.error && <Loading what="Reading your devices" />}
      {devices.value?.length === 0 && <p className="muted">You own no Active device: only a device's owner can list its telemetry.</p>}
      {keys && devices.value && devices.value.length > 0 && (
        <ListForm
          devices={devices.value}
          keys={keys}
          onListed={() => {
            devices.reload();
            pending.reload();
          }}
        />
      )}

      <h2>Purchases waiting for their key</h2>
      <button type="button" onClick={pending.reload} data-testid="sell-refresh-pending">
        Check for new purchases
      </button>
      <ErrorText error={pending.error} testId="sell-pending-error" />
      {pending.value?.length === 0 && <p data-testid="sell-no-pending">None.</p>}
      <ul className="plain">
        {keys &&
          pending.value?.map((p) => {
            const key = keys.contentKeyFor(p.listingId, p.contentHash);
            return (
              <li key={p.purchaseId.toString()} className="card" data-testid={`pending-${p.purchaseId}`}>
                Purchase #{p.purchaseId.toString()} of <Link to={`/market/listings/${p.listingId}`}>listing #{p.listingId.toString()}</Link>{" "}
                by <Address value={p.buyer} copy={false} />, {tokens(p.amount)} in escrow; deliver by <Time t={p.deliverBy} now={now} />.{" "}
                <TxButton
                  label="Deliver the key"
                  testId={`deliver-${p.purchaseId}`}
                  title={`Deliver the key of purchase #${p.purchaseId}`}
                  description={
                    <p>
                      The listing's content key is encrypted in this browser to the buyer's public key (recorded with the purchase) and
                      delivered on-chain; the escrow minus the marketplace fee is released to your balance.
                    </p>
                  }
                  disabled={!key || delivered.has(p.purchaseId)}
                  disabledReason={
                    delivered.has(p.purchaseId) ? "delivered" : "this browser does not hold the listing's content key: import your key file"
                  }
                  run={async ({ contracts }) => {
                    await preflight(() => contracts.market.deliver.staticCall(p.purchaseId, "0x01"));
                    return deliverContentKey(contracts.market, { purchaseId: p.purchaseId, contentKey: contentKeyBytes(key!) });
                  }}
                  result={(r) => `Delivered: ${tokens(r.sellerProceeds)} released to your balance (fee ${tokens(r.fee)}).`}
                  onDone={() => {
                    setDelivered((set) => new Set([...set, p.purchaseId]));
                    withdrawable.reload();
                  }}
                />
              </li>
            );
          })}
      </ul>

      <h2>Proceeds</h2>
      {withdrawable.value !== undefined && (
        <p data-testid="sell-withdrawable">
          {tokens(withdrawable.value)} to withdraw.{" "}
          <TxButton
            label="Withdraw"
            className="secondary"
            testId="sell-withdraw"
            title={`Withdraw ${tokens(withdrawable.value)} of proceeds`}
            disabled={withdrawable.value === 0n}
            disabledReason="nothing to withdraw yet"
            run={async ({ contracts, account: me }) => (await (await contracts.market.withdraw(me)).wait())!}
            result={() => "Withdrawn."}
            onDone={withdrawable.reload}
          />
        </p>
      )}
    </section>
  );
}
