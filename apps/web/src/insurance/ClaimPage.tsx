import "./pages.css";
import { useEffect, useState } from "react";
import type { PageProps } from "../App.tsx";
import { claimReason, formatBps, getPolicySummary, settleClaim } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useConfig } from "../lib/config.ts";
import { useChainNow, useContracts } from "../lib/contracts.tsx";
import { TxButton } from "../lib/tx.tsx";
import { Address, Badge, ErrorText, Loading, Time, Timeline, type TimelineItem } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { getProductDetails, readClaimTrail, type ClaimTrail } from "./data.ts";
import { checkEvidenceInBrowser, fetchContentBytes } from "./evidence.ts";
import { EvidenceReportView } from "./EvidenceReportView.tsx";
import { claimTone } from "./MyInsurancePage.tsx";
import { INSURANCE_LINKS, SubNav, preflight, useScanRange, useTokens } from "./shared.tsx";

/** The trail's events and deadlines as timeline items. */
function trailItems(trail: ClaimTrail): TimelineItem[] {
  return trail.events.map((e, i) => ({
    key: `${e.kind}-${i}`,
    title: e.title,
    time: e.at,
    detail: e.detail,
    state:
      e.kind === "deadline" ? (e.future ? "pending" : "done") : e.kind === "decided" && e.title.startsWith("Rejected") ? "failed" : "done",
    testId: `trail-${e.kind}`,
  }));
}

/**
 * A claim's whole trail (`triad claim:show`): status timeline, the evidence checked in the browser (its readings as a
 * chart, every signature, proof and anchor), the model hash, score and reason, the committee's k-of-n signatures
 * recovered here, and the appeal and settle buttons. Refreshes every few seconds until the claim is settled, so a
 * verdict shows up as it arrives.
 */
export default function ClaimPage({ params }: PageProps) {
  const config = useConfig();
  const { claims, committee, registry } = useContracts();
  const { account, readProvider } = useWallet();
  const now = useChainNow();
  const tokens = useTokens();
  const range = useScanRange();
  const claimId = /^\d+$/.test(params.id) ? BigInt(params.id) : undefined;
  const [settled, setSettled] = useState(false);
  const trail = useAsync(
    async () => (claimId === undefined ? undefined : readClaimTrail({ claims, committee }, readProvider, await range(), claimId)),
    [claims, committee, readProvider, range, claimId],
    settled ? undefined : 4_000,
  );
  const c = trail.value?.claim;
  const done = c?.status === "Paid" || c?.status === "Closed";
  useEffect(() => {
    if (done) setSettled(true);
  }, [done]);
  const [evidenceFile, setEvidenceFile] = useState<Uint8Array>();
  const evidence = useAsync(async () => {
    if (!c) return undefined;
    const [policy, bytes] = await Promise.all([
      getPolicySummary(claims, c.policyId),
      evidenceFile ?? fetchContentBytes(c.evidenceURI, { evidenceUrl: config.evidenceUrl }),
    ]);
    const product = await getProductDetails(claims, policy.productId);
    return checkEvidenceInBrowser(bytes, {
      chainId: BigInt(config.chainId),
      contracts: { registry, claims },
      expectedHash: c.evidenceHash,
      policy: { device: policy.device, start: policy.start, end: policy.end, productId: policy.productId },
      incidentAt: c.incidentAt,
      window: { beforeSeconds: Number(product.incidentWindowBefore), afterSeconds: Number(product.incidentWindowAfter) },
      filedAt: c.filedAt,
      fromBlock: config.deployment.startBlock,
    });
  }, [c?.claimId, c?.evidenceHash, evidenceFile, claims, registry, config]);

  if (claimId === undefined) return <p className="error">"{params.id}" is not a claim number.</p>;
  const holder = c && account && c.holder.toLowerCase() === account.toLowerCase();
  const canAppeal =
    c && now !== undefined && (c.status === "Rejected" || (c.status === "Approved" && c.payout < c.amount)) && now < c.appealDeadline;
  const canSettle =
    c && now !== undefined && (c.status === "Approved" || c.status === "Rejected") && c.settleFrom !== null && now >= c.settleFrom;
  const v = trail.value?.verdict;
  const reason = c?.reasonCode !== null && c?.reasonCode !== undefined ? claimReason(c.reasonCode) : undefined;

  return (
    <section aria-labelledby="claim-heading" data-testid="claim-page">
      <SubNav label="Insurance" links={INSURANCE_LINKS} current="" />
      <h1 id="claim-heading">
        Claim #{claimId.toString()}{" "}
        {c && (
          <Badge tone={claimTone(c.status)} testId="claim-status">
            {c.status}
          </Badge>
        )}
      </h1>
      <ErrorText error={trail.error} testId="claim-error" />
      {!trail.value && !trail.error && <Loading what="Reading the claim" />}
      {c && trail.value && (
        <>
          <dl className="facts" data-testid="claim-facts">
            <dt>Claimed</dt>
            <dd data-testid="claim-amount">{tokens(c.amount)}</dd>
            <dt>Policy</dt>
            <dd>
              #{c.policyId.toString()} on device <Address value={c.device} /> held by <Address value={c.holder} />
            </dd>
            <dt>Incident</dt>
            <dd>
              <Time t={c.incidentAt} now={now} />
            </dd>
            <dt>Deposit</dt>
            <dd>{tokens(c.deposit)}: refunded when the claim ends approved, lost to the pool when it ends rejected</dd>
            <dt>{c.settlement ? "Paid" : c.payoutIfApproved ? "Pays if approved in full" : "Pays at settlement"}</dt>
            <dd data-testid="claim-payout">
              {tokens(c.settlement ? c.settlement.paid : c.expectedPayout)} (after the {tokens(c.deductible)} deductible)
            </dd>
            <dt>Evidence</dt>
            <dd>
              <code className="wrap">{c.evidenceURI}</code>, hash <Address value={c.evidenceHash} />
            </dd>
          </dl>

          <h2>Trail</h2>
          <Timeline label={`Trail of claim ${claimId}`} items={trailItems(trail.value)} now={now} testId="claim-trail" />

          <h2>Verdict</h2>
          {c.status === "Filed" && (
            <p aria-live="polite" data-testid="claim-waiting">
              Waiting for the oracle committee ({trail.value.threshold} of {trail.value.members} members must sign the same verdict), due{" "}
              <Time t={c.assessmentDeadline} now={now} />. This page refreshes by itself.
            </p>
          )}
          {(c.status === "Escalated" || c.status === "Appealed") && (
            <p data-testid="claim-arbiter">With the arbiter: its decision is final.</p>
          )}
          {c.decidedBy && (
            <dl className="facts" data-testid="claim-verdict">
              <dt>Decision</dt>
              <dd data-testid="claim-decision">
                {c.approved ? "approved" : "rejected"} by the {c.decidedBy}
              </dd>
              <dt>Why</dt>
              <dd data-testid="claim-reason">
                {c.reason}
                {reason && (
                  <>
                    {" "}
                    <small className="muted">
                      (reason code {reason.code}, {reason.name})
                    </small>
                  </>
                )}
              </dd>
              {c.decidedBy === "committee" && (
                <>
                  <dt>Model</dt>
                  <dd>
                    <Address value={c.modelHash} testId="claim-model-hash" /> (the hash-pinned model the product allows)
                  </dd>
                  <dt>Score</dt>
                  <dd data-testid="claim-score">{formatBps(c.scoreBps)}</dd>
                  <dt>Signers</dt>
                  <dd data-testid="claim-signers" data-count={v?.signatures.length ?? c.signers.length}>
                    {v ? (
                      <>
                        {v.signatures.length} of {trail.value.members} members (threshold {trail.value.threshold}), each signature recovered
                        here from the EIP-712 verdict <Address value={v.digest} copy={false} />:
                        <ul className="plain">
                          {v.signatures.map((s) => (
                            <li key={s.signer} data-testid="claim-signer">
                              <span aria-hidden="true">{s.counted ? "✓" : "✗"}</span> <Address value={s.signer} />{" "}
                              {s.counted ? "committee member, counted" : "not a counted member"}
                            </li>
                          ))}
                        </ul>
                      </>
                    ) : (
                      c.signers.map((s) => <Address key={s} value={s} />)
                    )}
                  </dd>
                </>
              )}
            </dl>
          )}

          <div className="row" data-testid="claim-actions">
            {c.settleFrom !== null && (
              <p data-testid="claim-appeal-window">
                Appeal window {now !== undefined && c.settleFrom > now ? "open until" : "closed at"} <Time t={c.settleFrom} now={now} />.
              </p>
            )}
            <TxButton
              label="Appeal"
              className="secondary"
              testId="claim-appeal"
              title={`Appeal the verdict on claim #${claimId}`}
              description={
                <p>
                  The arbiter decides instead of the committee; its decision is final and settles the claim. The deposit stays at stake.
                </p>
              }
              disabled={!canAppeal || !holder}
              disabledReason={
                !holder ? "only the policy's holder may appeal" : "only a rejection or a partial payout, within the appeal window"
              }
              run={async ({ contracts }) => {
                await preflight(() => contracts.claims.appeal.staticCall(claimId));
                return (await (await contracts.claims.appeal(claimId)).wait())!;
              }}
              result={() => `Claim #${claimId} appealed: the arbiter decides.`}
              onDone={trail.reload}
            />
            <TxButton
              label="Settle"
              testId="claim-settle"
              title={`Settle claim #${claimId}`}
              description={
                <p>
                  Pays an approved claim (minus the deductible) and refunds the deposit, or closes a rejected one (the deposit goes to the
                  pool). Anyone may settle.
                </p>
              }
              disabled={!canSettle}
              disabledReason={c.settleFrom !== null ? "after the appeal window" : "once the claim is decided"}
              run={async ({ contracts }) => {
                await preflight(() => contracts.claims.settle.staticCall(claimId));
                return settleClaim(contracts.claims, claimId);
              }}
              result={(r) =>
                `Settled: ${r.status}; ${tokens(r.paid)} paid to ${r.recipient}, deposit refunded ${tokens(r.depositRefunded)}.`
              }
              onDone={trail.reload}
            />
            {c.settlement && (
              <p className="ok" data-testid="claim-settlement">
                Settled: {tokens(c.settlement.paid)} paid to <Address value={c.settlement.recipient} />; deposit{" "}
                {c.settlement.depositRefunded > 0n ? `of ${tokens(c.settlement.depositRefunded)} refunded` : `of ${tokens(c.deposit)} lost`}
                .
              </p>
            )}
          </div>

          <h2>Evidence, checked in this browser</h2>
          <ErrorText error={evidence.error} testId="claim-evidence-error" />
          {evidence.error !== undefined && (
            <label>
              Load the evidence file instead{" "}
              <input
                type="file"
                accept="application/json,.json"
                onChange={(e) => void e.target.files?.[0]?.arrayBuffer().then((b) => setEvidenceFile(new Uint8Array(b)))}
                data-testid="claim-evidence-file"
              />
            </label>
          )}
          {!evidence.value && !evidence.error && <Loading what="Fetching and checking the evidence" />}
          {evidence.value && <EvidenceReportView report={evidence.value} incidentAt={c.incidentAt} testId="claim-evidence" />}
        </>
      )}
    </section>
  );
}
