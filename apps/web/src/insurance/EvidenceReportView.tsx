import { Address, Badge, Time } from "../lib/ui.tsx";
import type { EvidenceReport } from "./evidence.ts";
import { ReadingsChart } from "./ReadingsChart.tsx";

/**
 * What the browser checked of an evidence bundle (./evidence.ts `checkEvidenceInBrowser`): each check in the oracle's
 * order with ✓ or ✗, the first failure as the committee's rejection reason, every anchor with what the chain says
 * of it, and the readings as a chart with the incident marked.
 */
export function EvidenceReportView({
  report,
  incidentAt,
  testId = "evidence-report",
}: {
  report: EvidenceReport;
  incidentAt?: bigint;
  testId?: string;
}) {
  return (
    <div data-testid={testId} data-ok={report.ok ? "true" : "false"}>
      <p aria-live="polite" data-testid={`${testId}-verdict`}>
        {report.ok ? (
          <Badge tone="ok">checked in this browser: the committee will accept this evidence</Badge>
        ) : (
          <Badge tone="bad">the committee would reject this evidence</Badge>
        )}
      </p>
      <ol className="plain checks" aria-label="Checks of the evidence">
        {report.steps.map((s) => (
          <li key={s.id} data-testid={`${testId}-check-${s.id}`} data-ok={s.ok ? "true" : "false"}>
            <span aria-hidden="true">{s.ok ? "✓" : "✗"}</span> <strong>{s.label}</strong>
            <span className="visually-hidden">{s.ok ? " passed" : " failed"}</span>
            <div className="muted">{s.detail}</div>
          </li>
        ))}
      </ol>
      {report.failure && (
        <p className="error" role="alert" data-testid={`${testId}-failure`}>
          {report.failure.reasonName}: {report.failure.sentence} ({report.failure.message})
        </p>
      )}
      {report.anchors.length > 0 && (
        <div className="table-wrap">
          <table data-testid={`${testId}-anchors`}>
            <caption>Anchors of the readings</caption>
            <thead>
              <tr>
                <th scope="col">Anchor</th>
                <th scope="col">Readings</th>
                <th scope="col">On-chain since</th>
                <th scope="col">Authorised</th>
                <th scope="col">Accepted by the product</th>
              </tr>
            </thead>
            <tbody>
              {report.anchors.map((a) => (
                <tr key={a.name}>
                  <td>
                    {a.anchor.kind === "fleet" ? "fleet root " : "device root "}
                    <Address value={a.anchor.root} copy={false} />
                    {a.anchor.kind === "fleet" && (
                      <>
                        {" "}
                        of gateway <Address value={a.anchor.gateway} copy={false} />
                      </>
                    )}
                  </td>
                  <td>{a.readings}</td>
                  <td>{a.facts ? a.facts.anchoredAt === 0n ? "not on-chain" : <Time t={a.facts.anchoredAt} /> : "-"}</td>
                  <td>{a.facts ? (a.facts.authorised ? "yes" : "no") : "-"}</td>
                  <td>{a.facts?.accepted === undefined ? "-" : a.facts.accepted ? "yes" : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {report.readings.length > 0 && (
        <ReadingsChart
          title={`${report.readings.length} readings around the incident${report.readingsVerified ? ", signatures and proofs verified" : " (not verified)"}`}
          readings={report.readings}
          markers={incidentAt !== undefined ? [{ x: Number(incidentAt), label: "incident" }] : undefined}
          testId={`${testId}-readings`}
        />
      )}
    </div>
  );
}
