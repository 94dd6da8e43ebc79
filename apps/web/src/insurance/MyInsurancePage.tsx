import "./pages.css";
import type { PageProps } from "../App.tsx";
import type { ClaimDetails } from "@triad/sdk";
import { useAsync } from "../lib/async.ts";
import { useChainNow, useContracts } from "../lib/contracts.tsx";
import { Link } from "../lib/router.ts";
import { Address, Badge, ErrorText, Loading, Time } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { myClaims, myPolicies, policyClaimable } from "./data.ts";
import { INSURANCE_LINKS, NeedsAccount, SubNav, useScanRange, useTokens } from "./shared.tsx";

/** Tone of a claim's status badge. */
export function claimTone(status: ClaimDetails["status"]): "neutral" | "ok" | "warn" | "bad" {
  return status === "Paid" || status === "Approved" ? "ok" : status === "Rejected" || status === "Closed" ? "bad" : "warn";
}

/** My policies and my claims (`triad policy:list`, `claim:list`). */
export default function MyInsurancePage(_props: PageProps) {
  const { claims, committee } = useContracts();
  const { account } = useWallet();
  const now = useChainNow();
  const tokens = useTokens();
  const range = useScanRange();
  const data = useAsync(
    async () => {
      if (!account) return undefined;
      const r = await range();
      const policies = await myPolicies(claims, r, account);
      return { policies, claims: await myClaims(claims, committee, r, account, policies) };
    },
    [claims, committee, account, range],
    15_000,
  );

  return (
    <section aria-labelledby="my-insurance-heading" data-testid="my-insurance-page">
      <SubNav label="Insurance" links={INSURANCE_LINKS} current="/insurance" />
      <h1 id="my-insurance-heading">My policies and claims</h1>
      {!account && <NeedsAccount what="see your policies and claims" />}
      <ErrorText error={data.error} testId="my-insurance-error" />
      {account && !data.value && !data.error && <Loading what="Reading your policies" />}
      {data.value && (
        <>
          <h2>Policies</h2>
          {data.value.policies.length === 0 ? (
            <p data-testid="no-policies">
              You hold no policy. <Link to="/insurance/products">Buy one for your device</Link>.
            </p>
          ) : (
            <div className="table-wrap">
              <table data-testid="policies-table">
                <caption className="visually-hidden">Policies you hold</caption>
                <thead>
                  <tr>
                    <th scope="col">Policy</th>
                    <th scope="col">Device</th>
                    <th scope="col">Cover left</th>
                    <th scope="col">Covers incidents</th>
                    <th scope="col">Claim</th>
                  </tr>
                </thead>
                <tbody>
                  {data.value.policies.map((p) => {
                    const can = now === undefined ? { ok: false, why: "reading the chain's time" } : policyClaimable(p, now);
                    return (
                      <tr key={p.policyId.toString()} data-testid={`policy-${p.policyId}`}>
                        <th scope="row">#{p.policyId.toString()}</th>
                        <td>
                          <Link to={`/devices/${p.device}`}>
                            <Address value={p.device} copy={false} />
                          </Link>
                        </td>
                        <td>
                          {tokens(p.remaining)} of {tokens(p.coverage)}
                        </td>
                        <td>
                          <Time t={p.coveredFrom} /> – <Time t={p.end} now={now} />
                        </td>
                        <td>
                          {p.openClaimId > 0n ? (
                            <Link to={`/insurance/claims/${p.openClaimId}`}>claim #{p.openClaimId.toString()} in progress</Link>
                          ) : can.ok ? (
                            <Link to={`/insurance/claims/new?policy=${p.policyId}`} data-testid={`file-claim-${p.policyId}`}>
                              File a claim
                            </Link>
                          ) : (
                            <span className="muted">{can.why}</span>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}

          <h2>Claims</h2>
          {data.value.claims.length === 0 ? (
            <p data-testid="no-claims">No claims yet.</p>
          ) : (
            <ul className="grid" data-testid="claims-list">
              {data.value.claims.map((c) => (
                <li key={c.claimId.toString()} className="card" data-testid={`claim-${c.claimId}`}>
                  <h3>
                    <Link to={`/insurance/claims/${c.claimId}`}>Claim #{c.claimId.toString()}</Link>{" "}
                    <Badge tone={claimTone(c.status)} testId={`claim-${c.claimId}-status`}>
                      {c.status}
                    </Badge>
                  </h3>
                  <p>
                    {tokens(c.amount)} claimed on policy #{c.policyId.toString()}, incident at <Time t={c.incidentAt} now={now} />
                  </p>
                  <p className="muted">
                    {c.reason ??
                      (c.status === "Filed" ? (
                        <>
                          waiting for the committee's verdict (due <Time t={c.assessmentDeadline} now={now} />)
                        </>
                      ) : (
                        "with the arbiter"
                      ))}
                  </p>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
