/**
 * `@triad/oracle/monitor`: live failure-risk alerts from the shipped model (packages/oracle/MODEL.md, "Live
 * monitoring"; the alert payload is docs/protocol.md §5.3, "Alerts").
 *
 * ```ts
 * import { loadModel } from "@triad/oracle/model";
 * import { ModelMonitor, encodeAlert } from "@triad/oracle/monitor";
 * const monitor = new ModelMonitor(await loadModel(), { raiseAtBps: 5000, raiseAfter: 1, clearAtBps: 1500, clearAfter: 5 });
 * const report = await monitor.process(readings); // one predict call for the whole batch
 * for (const alert of report.alerts) publish(encodeAlert(alert));
 * ```
 *
 * `FailureMonitor` is the state machine alone (feed it scores from anywhere); `scoreReadings` the batch scoring alone.
 * The gateway runs a `ModelMonitor` behind its ingest (`triad-gateway run --monitor`).
 */
export * from "./hysteresis.ts";
export * from "./alert.ts";
export * from "./scoring.ts";
export * from "./monitor.ts";
