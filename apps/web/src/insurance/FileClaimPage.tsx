import "./pages.css";
import { useEffect, useRef, useState } from "react";
import type { PageProps } from "../App.tsx";
import { EVIDENCE_SCHEMA_V2, fileClaim, formatDuration, formatTimestamp, formatUnitsExact, type PolicySummary } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { fetchGatewayJson, useConfig } from "../lib/config.ts";
import { useChainInfo, useChainNow, useContracts, useExplainContext } from "../lib/contracts.tsx";
import { errorSentence } from "../lib/errors.ts";
import { Link } from "../lib/router.ts";
import { TxButton } from "../lib/tx.tsx";
import { ErrorText, Loading, Time } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { getProductDetails, myPolicies, policyClaimable } from "./data.ts";
import { checkEvidenceInBrowser, fetchGatewayEvidence, publishToStore, type EvidenceReport } from "./evidence.ts";
import { EvidenceReportView } from "./EvidenceReportView.tsx";
import { Field, INSURANCE_LINKS, NeedsAccount, SubNav, preflight, useParseTokens, useScanRange, useTokens } from "./shared.tsx";

/** A unix time as the value of an <input type="datetime-local"> in UTC ("2026-03-01T12:00:00"). */
const toInput = (t: bigint) => new Date(Number(t) * 1000).toISOString().slice(0, 19);
/** The unix time of an <input type="datetime-local"> value read as UTC; undefined when unreadable. */
const fromInput = (v: string): bigint | undefined => {
  const ms = Date.parse(/Z$/.test(v) ? v : `${v}Z`);
  return Number.isNaN(ms) ? undefined : BigInt(Math.floor(ms / 1000));
};

type EvidenceState =
  | { phase: "idle" }
  | { phase: "fetching"; waiting?: string }
  | { phase: "checked"; bytes: Uint8Array; report: EvidenceReport; incidentAt: bigint }
  | { phase: "failed"; error: string };

/**
 * Filing a claim (`triad evidence:build --gateway`, `claim:check`, `claim:file`): choose the policy's device and the
 * incident time; the evidence comes from the gateway and is checked here with the oracle's rules before anything is
 * sent; the deposit and its risk are stated; the claim is filed with the evidence published to the app's store.
 */
export default function FileClaimPage({ route }: PageProps) {
  const config = useConfig();
  const { claims, registry } = useContracts();
  const { account } = useWallet();
  const explain = useExplainContext();
  const { token } = useChainInfo();
  const now = useChainNow();
  const tokens = useTokens();
  const parse = useParseTokens();
  const range = useScanRange();
  const policies = useAsync(async () => (account ? myPolicies(claims, await range(), account) : []), [claims, account, range]);
  const [policyId, setPolicyId] = useState(route.query.get("policy") ?? "");
  const [incident, setIncident] = useState("");
  const [amount, setAmount] = useState("");
  const [evidence, setEvidence] = useState<EvidenceState>({ phase: "idle" });
  const [filed, setFiled] = useState<bigint>();
  const abort = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => abort.current?.abort(), []);

  const open = (policies.value ?? []).filter((p) => now !== undefined && policyClaimable(p, now).ok);
  const policy: PolicySummary | undefined = open.find((p) => p.policyId.toString() === policyId) ?? open[0];
  const product = useAsync(async () => (policy ? getProductDetails(claims, policy.productId) : undefined), [claims, policy?.productId]);
  const terms = product.value;
  // Default incident: late enough that the window's end has passed (the gateway needs the reading after it).
  // The device's readings at the gateway: a window is provable only with a reading before it and one after it.
  const stored = useAsync(async () => {
    if (!policy || !config.gatewayUrl) return undefined;
    const [first, summary] = await Promise.all([
      fetchGatewayJson<{ readings: { timestamp: string }[] }>(config, `/v1/devices/${policy.device}/readings?limit=1`),
      fetchGatewayJson<{ lastTimestamp: string }>(config, `/v1/devices/${policy.device}`),
    ]);
    return first.readings.length === 0 ? undefined : { first: BigInt(first.readings[0].timestamp), last: BigInt(summary.lastTimestamp) };
  }, [config, policy?.device]);
  // Default incident: the latest time whose window has passed (the gateway needs the reading after it), not before
  // the cover starts nor before the device's readings reach back past the window.
  useEffect(() => {
    if (incident === "" && now !== undefined && terms && policy && !stored.loading) {
      let at = now - terms.incidentWindowAfter - 120n;
      if (at < policy.coveredFrom) at = policy.coveredFrom;
      if (stored.value && at < stored.value.first + terms.incidentWindowBefore + 60n)
        at = stored.value.first + terms.incidentWindowBefore + 60n;
      setIncident(toInput(at));
    }
  }, [now, terms, incident, policy, stored.loading, stored.value]);
  useEffect(() => {
    if (policy && amount === "") setAmount(formatUnitsExact(policy.remaining, token.decimals));
  }, [policy, amount, token]);
  useEffect(() => setEvidence({ phase: "idle" }), [policy?.policyId, incident]);

  const incidentAt = fromInput(incident);
  let claimAmount: bigint | undefined;
  let amountError: string | undefined;
  try {
    claimAmount = parse(amount, "the amount");
    if (policy && claimAmount > policy.remaining) amountError = `the policy has ${tokens(policy.remaining)} of cover left`;
    else if (policy && claimAmount <= policy.deductible)
      amountError = `a claim within the ${tokens(policy.deductible)} deductible pays nothing even if approved, and a rejection costs the deposit`;
  } catch (err) {
    amountError = (err as Error).message;
  }
  const incidentError =
    incidentAt === undefined
      ? "enter the incident time"
      : policy && incidentAt < policy.coveredFrom
        ? "the incident is before the policy covers incidents (waiting period)"
        : policy && incidentAt >= policy.end
          ? "the incident is after the policy's end"
          : now !== undefined && incidentAt > now
            ? "the incident is in the future"
            : undefined;

  const fetchAndCheck = async () => {
    if (!policy || !terms || incidentAt === undefined) return;
    if (!config.gatewayUrl) {
      setEvidence({ phase: "failed", error: "this app has no gateway configured (gatewayUrl in config.json)" });
      return;
    }
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setEvidence({ phase: "fetching" });
    try {
      const window = { beforeSeconds: Number(terms.incidentWindowBefore), afterSeconds: Number(terms.incidentWindowAfter) };
      const bytes = await fetchGatewayEvidence({
        gatewayUrl: config.gatewayUrl,
        device: policy.device,
        incidentAt,
        window,
        signal: controller.signal,
        onWaiting: (waiting) => setEvidence({ phase: "fetching", waiting }),
      });
      const filedAt = BigInt((await registry.runner!.provider!.getBlock("latest"))!.timestamp);
      const report = await checkEvidenceInBrowser(bytes, {
        chainId: BigInt(config.chainId),
        contracts: { registry, claims },
        policy: { device: policy.device, start: policy.start, end: policy.end, productId: policy.productId },
        incidentAt,
        window,
        filedAt,
        fromBlock: config.deployment.startBlock,
      });
      if (!controller.signal.aborted) setEvidence({ phase: "checked", bytes, report, incidentAt });
    } catch (err) {
      if (!controller.signal.aborted) setEvidence({ phase: "failed", error: errorSentence(err, explain) });
    }
  };

  const checked = evidence.phase === "checked" ? evidence : undefined;
  return (
    <section aria-labelledby="file-claim-heading" data-testid="file-claim-page">
      <SubNav label="Insurance" links={INSURANCE_LINKS} current="/insurance/claims/new" />
      <h1 id="file-claim-heading">File a claim</h1>
      {!account && <NeedsAccount what="file a claim on a policy you hold" />}
      {filed !== undefined && (
        <p className="ok" data-testid="claim-filed">
          <Link to={`/insurance/claims/${filed}`} data-testid="claim-filed-link">
            Follow claim #{filed.toString()}: its trail and the committee's verdict
          </Link>
        </p>
      )}
      <ErrorText error={policies.error} testId="file-claim-error" />
      {account && !policies.value && !policies.error && <Loading what="Reading your policies" />}
      {policies.value && open.length === 0 && (
        <p data-testid="no-open-policy">
          None of your policies can take a claim now (ended, in its waiting period, or with a claim in progress).{" "}
          <Link to="/insurance">My policies</Link>
        </p>
      )}
      {policy && (
        <form className="card" onSubmit={(e) => e.preventDefault()} aria-describedby="file-claim-intro">
          <p id="file-claim-intro" className="muted">
            The evidence is the device's signed, anchored readings around the incident, served by the gateway. This page checks it with the
            oracle committee's rules before you file, so a claim the committee must reject is not filed by mistake.
          </p>
          <Field label="Device (policy)" hint="the insured device of one of your policies">
            {(id, hint) => (
              <select
                id={id}
                aria-describedby={hint}
                value={policy.policyId.toString()}
                onChange={(e) => setPolicyId(e.target.value)}
                data-testid="claim-policy"
              >
                {open.map((p) => (
                  <option key={p.policyId.toString()} value={p.policyId.toString()}>
                    {p.device} — policy #{p.policyId.toString()}, {tokens(p.remaining)} of cover left
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field
            label="Incident time (UTC)"
            hint={
              incidentError ??
              (terms &&
                `the readings from ${formatDuration(terms.incidentWindowBefore)} before to ${formatDuration(terms.incidentWindowAfter)} after it are the evidence (unix time ${incidentAt})${
                  stored.value
                    ? `; the gateway holds this device's readings from ${formatTimestamp(stored.value.first)} to ${formatTimestamp(stored.value.last)}`
                    : ""
                }`)
            }
          >
            {(id, hint) => (
              <input
                id={id}
                type="datetime-local"
                step={1}
                aria-describedby={hint}
                aria-invalid={incidentError !== undefined}
                value={incident}
                onChange={(e) => setIncident(e.target.value)}
                data-testid="claim-incident"
              />
            )}
          </Field>
          <Field
            label="Amount claimed (tokens)"
            hint={amountError ?? (policy && `pays ${tokens(claimAmount! - policy.deductible)} if approved, after the deductible`)}
          >
            {(id, hint) => (
              <input
                id={id}
                inputMode="decimal"
                aria-describedby={hint}
                aria-invalid={amountError !== undefined}
                value={amount}
                onChange={(e) => setAmount(e.target.value)}
                data-testid="claim-amount"
              />
            )}
          </Field>
          <button
            type="button"
            className="primary"
            onClick={() => void fetchAndCheck()}
            disabled={incidentError !== undefined || !terms || evidence.phase === "fetching"}
            data-testid="claim-fetch-evidence"
          >
            Get the evidence from the gateway and check it
          </button>
          <div aria-live="polite" data-testid="claim-evidence-status" data-phase={evidence.phase}>
            {evidence.phase === "fetching" && (
              <p aria-busy="true">
                Fetching the evidence… {evidence.waiting && <span className="muted">waiting for the gateway: {evidence.waiting}</span>}
              </p>
            )}
            {evidence.phase === "failed" && (
              <p className="error" role="alert" data-testid="claim-evidence-error">
                {evidence.error}
              </p>
            )}
          </div>
          {checked && <EvidenceReportView report={checked.report} incidentAt={checked.incidentAt} testId="claim-evidence" />}
          {checked && terms && (
            <div className="card" data-testid="claim-deposit">
              <h2>The deposit and its risk</h2>
              <p>
                Filing costs a deposit of <strong>{tokens(policy.claimDeposit)}</strong>. It comes back when the claim ends approved; if the
                claim ends rejected (by the committee, or by the arbiter after an appeal), it goes to the pool. The committee decides within{" "}
                {formatDuration(terms.assessmentWindow)}; after its verdict you may appeal within {formatDuration(terms.appealWindow)}.
              </p>
              {!checked.report.ok && (
                <p className="error" role="alert">
                  The checks above failed: the committee would reject this claim and the deposit would be lost. Choose another incident
                  time, or wait for the readings to be anchored.
                </p>
              )}
            </div>
          )}
          {checked && (
            <TxButton
              label="File the claim"
              testId="claim-file"
              title={`File a claim of ${claimAmount !== undefined ? tokens(claimAmount) : "?"} on policy #${policy.policyId} for the incident at ${incident} UTC`}
              description={
                <p>
                  The evidence ({EVIDENCE_SCHEMA_V2}, {checked.report.bytes} bytes, hash{" "}
                  <code>{checked.report.evidenceHash.slice(0, 12)}…</code>) is published to the app's evidence store, then the claim is
                  filed with a deposit of {tokens(policy.claimDeposit)} (an approval of the token first when the allowance is short). If
                  approved it pays {claimAmount !== undefined ? tokens(claimAmount - policy.deductible) : "?"}; if it ends rejected the
                  deposit is lost.
                </p>
              }
              disabled={!checked.report.ok || amountError !== undefined || !config.evidenceUrl}
              disabledReason={
                !config.evidenceUrl
                  ? "this app has no evidence store configured (evidenceUrl)"
                  : (amountError ?? "the evidence failed its checks")
              }
              run={async ({ contracts }) => {
                const params = {
                  policyId: policy.policyId,
                  amount: claimAmount!,
                  incidentAt: checked.incidentAt,
                  evidenceHash: checked.report.evidenceHash,
                };
                await preflight(() =>
                  contracts.claims.fileClaim.staticCall(
                    params.policyId,
                    params.amount,
                    params.incidentAt,
                    params.evidenceHash,
                    "preflight",
                  ),
                );
                const published = await publishToStore(config.evidenceUrl!, checked.bytes);
                return fileClaim(contracts.claims, contracts.token, { ...params, evidenceURI: published.uri });
              }}
              result={(r) => (
                <>
                  Claim #{r.claimId.toString()} filed; the committee must decide by <Time t={r.assessmentDeadline} />.
                </>
              )}
              onDone={(r) => setFiled(r.claimId)}
            />
          )}
        </form>
      )}
    </section>
  );
}
