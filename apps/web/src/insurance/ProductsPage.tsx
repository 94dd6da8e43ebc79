import "./pages.css";
import { useEffect, useState } from "react";
import type { PageProps } from "../App.tsx";
import { buyPolicy, formatBps, formatDuration, formatUnitsExact, listDevices } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useChainInfo, useContracts } from "../lib/contracts.tsx";
import { Link } from "../lib/router.ts";
import { Badge, ErrorText, Loading } from "../lib/ui.tsx";
import { TxButton } from "../lib/tx.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { listProducts, quotePolicy, type ProductDetails } from "./data.ts";
import { Field, INSURANCE_LINKS, NeedsAccount, SubNav, preflight, useParseTokens, useScanRange, useTokens } from "./shared.tsx";

const DAY = 86_400n;

/** A product's terms as a definition list. */
function Terms({ p }: { p: ProductDetails }) {
  const tokens = useTokens();
  return (
    <dl className="facts" data-testid={`product-${p.productId}-terms`}>
      <dt>Maximum cover</dt>
      <dd>{tokens(p.maxCoverage)}</dd>
      <dt>Premium rate</dt>
      <dd>{formatBps(p.premiumRateBps)} of the cover per year</dd>
      <dt>Deductible</dt>
      <dd>{tokens(p.deductible)} per payout</dd>
      <dt>Claim deposit</dt>
      <dd>{tokens(p.claimDeposit)}, lost to the pool if a claim ends rejected</dd>
      <dt>Term</dt>
      <dd>
        {formatDuration(p.minDuration)} to {formatDuration(p.maxDuration)}
      </dd>
      <dt>Waiting period</dt>
      <dd>{formatDuration(p.waitingPeriod)} before incidents are covered</dd>
      <dt>Claims</dt>
      <dd>
        until {formatDuration(p.claimWindow)} after the term; decided by the oracle committee within {formatDuration(p.assessmentWindow)};
        appeal within {formatDuration(p.appealWindow)}
      </dd>
      <dt>Telemetry</dt>
      <dd>
        {p.sensorSchema} readings from {formatDuration(p.incidentWindowBefore)} before to {formatDuration(p.incidentWindowAfter)} after the
        incident, each anchored within {formatDuration(p.maxAnchorDelay)} by{" "}
        {p.gatewayPolicy === "Allowlist" ? "a gateway on the product's list" : "a gateway the owner authorised"}
      </dd>
    </dl>
  );
}

/** The products and their terms; buy a policy for one of my devices (`triad policy:buy`). */
export default function ProductsPage({ route }: PageProps) {
  const { claims, registry } = useContracts();
  const { account } = useWallet();
  const tokens = useTokens();
  const parse = useParseTokens();
  const range = useScanRange();
  const products = useAsync(() => listProducts(claims), [claims]);
  const devices = useAsync(
    async () => (account ? (await listDevices(registry, await range(), { owner: account })).filter((d) => d.status === "Active") : []),
    [registry, account, range],
  );
  const [productId, setProductId] = useState<string>("");
  const [device, setDevice] = useState<string>(route.query.get("device") ?? "");
  const [coverage, setCoverage] = useState("");
  const [days, setDays] = useState("30");
  const [bought, setBought] = useState<bigint>();

  const active = products.value?.filter((p) => p.active) ?? [];
  const product = active.find((p) => p.productId.toString() === productId) ?? active[active.length - 1];
  const chosenDevice = device || devices.value?.[0]?.device || "";
  const { token } = useChainInfo();
  // A sensible default cover: ten deductibles (within the product's maximum).
  useEffect(() => {
    if (coverage === "" && product) {
      const tenfold = product.deductible * 10n;
      setCoverage(formatUnitsExact(tenfold < product.maxCoverage ? tenfold : product.maxCoverage, token.decimals));
    }
  }, [coverage, product, token.decimals]);
  let cover: bigint | undefined;
  let inputError: string | undefined;
  try {
    cover = parse(coverage, "the cover");
  } catch (err) {
    inputError = (err as Error).message;
  }
  const dayCount = /^\d{1,4}$/.test(days.trim()) ? BigInt(days.trim()) : undefined;
  if (dayCount === undefined && !inputError) inputError = "the term must be a whole number of days";
  if (product && dayCount !== undefined && (dayCount * DAY < product.minDuration || dayCount * DAY > product.maxDuration) && !inputError) {
    inputError = `the term must be from ${formatDuration(product.minDuration)} to ${formatDuration(product.maxDuration)}`;
  }
  if (product && cover !== undefined && cover > product.maxCoverage && !inputError)
    inputError = `the cover is above the product's ${tokens(product.maxCoverage)}`;
  if (product && cover !== undefined && cover <= product.deductible && !inputError)
    inputError = `the cover must be above the product's ${tokens(product.deductible)} deductible, or no claim could ever pay`;
  const quote = useAsync(
    async () =>
      product && cover !== undefined && cover > 0n && dayCount !== undefined && !inputError
        ? quotePolicy(claims, product, cover, dayCount * DAY)
        : undefined,
    [claims, product?.productId, cover, dayCount, inputError],
  );

  return (
    <section aria-labelledby="products-heading" data-testid="products-page">
      <SubNav label="Insurance" links={INSURANCE_LINKS} current="/insurance/products" />
      <h1 id="products-heading">Products</h1>
      <ErrorText error={products.error} testId="products-error" />
      {!products.value && !products.error && <Loading what="Reading the products" />}
      {products.value?.length === 0 && <p>No product exists yet.</p>}
      {products.value?.map((p) => (
        <article key={p.productId.toString()} className="card" data-testid={`product-${p.productId}`}>
          <h2>
            Product #{p.productId.toString()}{" "}
            <Badge tone={p.active ? "ok" : "neutral"}>{p.active ? "open for new policies" : "closed"}</Badge>
          </h2>
          <Terms p={p} />
        </article>
      ))}

      <h2 id="buy-heading">Buy a policy for my device</h2>
      {!account && <NeedsAccount what="buy a policy for a device you own" />}
      {account && (
        <form className="card" aria-labelledby="buy-heading" onSubmit={(e) => e.preventDefault()} data-testid="buy-policy-form">
          <ErrorText error={devices.error} testId="devices-error" />
          {devices.value?.length === 0 && <p className="muted">You own no Active device: register one first (Devices).</p>}
          <Field label="Product">
            {(id) => (
              <select
                id={id}
                value={product?.productId.toString() ?? ""}
                onChange={(e) => setProductId(e.target.value)}
                data-testid="buy-product"
              >
                {active.map((p) => (
                  <option key={p.productId.toString()} value={p.productId.toString()}>
                    #{p.productId.toString()} — up to {tokens(p.maxCoverage)}, deductible {tokens(p.deductible)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Device" hint="the device must be yours and Active; it can hold one policy at a time">
            {(id, hint) => (
              <select
                id={id}
                aria-describedby={hint}
                value={chosenDevice}
                onChange={(e) => setDevice(e.target.value)}
                data-testid="buy-device"
              >
                {(devices.value ?? []).map((d) => (
                  <option key={d.device} value={d.device}>
                    {d.device}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Cover (tokens)" hint={product ? `at most ${tokens(product.maxCoverage)}` : undefined}>
            {(id, hint) => (
              <input
                id={id}
                aria-describedby={hint}
                inputMode="decimal"
                value={coverage}
                onChange={(e) => setCoverage(e.target.value)}
                data-testid="buy-coverage"
              />
            )}
          </Field>
          <Field label="Term (days)">
            {(id) => <input id={id} inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} data-testid="buy-days" />}
          </Field>
          {inputError && (
            <p className="error" role="alert" data-testid="buy-input-error">
              {inputError}
            </p>
          )}
          {quote.value && (
            <p aria-live="polite" data-testid="buy-quote">
              Premium <strong>{tokens(quote.value.premium)}</strong>; each payout is at most {tokens(quote.value.maxPayoutPerClaim)} (the
              cover minus the {tokens(product!.deductible)} deductible).
            </p>
          )}
          <ErrorText error={quote.error} testId="buy-quote-error" />
          <TxButton
            label="Buy policy"
            testId="buy-policy"
            title={`Buy a ${days}-day policy of ${cover !== undefined ? tokens(cover) : "?"} cover for device ${chosenDevice}`}
            description={
              quote.value &&
              product && (
                <p>
                  You pay a premium of {tokens(quote.value.premium)} (an approval of the token is sent first when the allowance is short).
                  Incidents are covered after the {formatDuration(product.waitingPeriod)} waiting period until the end of the term; each
                  payout is the approved amount minus the {tokens(product.deductible)} deductible, and filing a claim costs a{" "}
                  {tokens(product.claimDeposit)} deposit, lost if the claim ends rejected.
                </p>
              )
            }
            disabled={!product || !chosenDevice || inputError !== undefined || !quote.value}
            disabledReason={!chosenDevice ? "no device of yours" : (inputError ?? "waiting for the quote")}
            run={async ({ contracts }) => {
              const params = { productId: product!.productId, device: chosenDevice, coverage: cover!, durationSeconds: dayCount! * DAY };
              await preflight(() =>
                contracts.claims.buyPolicy.staticCall(params.productId, params.device, params.coverage, params.durationSeconds),
              );
              return buyPolicy(contracts.claims, contracts.token, params);
            }}
            result={(r) => `Policy #${r.policyId} bought for ${tokens(r.premium)}.`}
            onDone={(r) => {
              setBought(r.policyId);
              devices.reload();
            }}
          />
          {bought !== undefined && (
            <p className="ok" data-testid="buy-done">
              Policy #{bought.toString()} is yours: <Link to="/insurance">see my policies</Link>.
            </p>
          )}
        </form>
      )}
    </section>
  );
}
