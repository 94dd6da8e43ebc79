import { listDevices, listGateways, type DeviceSummary } from "@triad/sdk";
import type { PageProps } from "../App.tsx";
import { useAsync } from "../lib/async.ts";
import { useConfig } from "../lib/config.ts";
import { deploymentScanRange, useChainNow, useContracts } from "../lib/contracts.tsx";
import { Link } from "../lib/router.ts";
import { TxButton } from "../lib/tx.tsx";
import { Address, Badge, ErrorText, Loading, Time } from "../lib/ui.tsx";
import { useWallet } from "../lib/wallet.tsx";
import { gatewayDevice, riskFeed, type GatewayDeviceSummary, type RiskFeed } from "./data.ts";

/**
 * "My devices": the devices the connected account owns (every registered device when no wallet is connected), with
 * their registry status, what the gateway last heard from each and the monitor's alert state; the owner can
 * suspend and resume a device, and sees the gateways it has authorised to anchor its readings.
 */
export function statusTone(d: Pick<DeviceSummary, "status" | "adminHold">): "ok" | "warn" | "bad" {
  if (d.status === "Revoked") return "bad";
  if (d.status !== "Active" || d.adminHold) return "warn";
  return "ok";
}

interface Row {
  device: DeviceSummary;
  gateway?: GatewayDeviceSummary;
  gatewayError?: unknown;
  alert?: RiskFeed["alerts"][number];
}

export default function DevicesPage(_props: PageProps) {
  const config = useConfig();
  const wallet = useWallet();
  const { registry } = useContracts();
  const now = useChainNow();
  const owner = wallet.account;
  const devices = useAsync(
    async (signal) => {
      const range = await deploymentScanRange(config, wallet.readProvider);
      const list = await listDevices(registry, range, owner ? { owner } : {});
      const wallNow = BigInt(Math.floor(Date.now() / 1000));
      return Promise.all(
        list.map(async (device): Promise<Row> => {
          const [gateway, risk] = await Promise.all([
            gatewayDevice(config, device.device, signal).then(
              (g) => ({ g }),
              (error: unknown) => ({ error }),
            ),
            riskFeed(config, device.device, wallNow - 600n, signal).catch(() => undefined),
          ]);
          return {
            device,
            gateway: "g" in gateway ? gateway.g : undefined,
            gatewayError: "error" in gateway ? gateway.error : undefined,
            alert: risk?.alerts.at(-1),
          };
        }),
      );
    },
    [config, registry, owner],
    10_000,
  );
  const gateways = useAsync(
    async () => (owner ? listGateways(registry, await deploymentScanRange(config, wallet.readProvider), { owner }) : []),
    [config, registry, owner],
  );

  return (
    <section data-testid="devices-page">
      <h1>{owner ? "My devices" : "Devices"}</h1>
      {!owner && <p className="muted">Connect a wallet to see the devices you own; until then, every registered device is listed.</p>}
      {devices.error !== undefined && <ErrorText error={devices.error} testId="devices-error" />}
      {devices.value === undefined && devices.error === undefined && <Loading what="Reading the registry" />}
      {devices.value && devices.value.length === 0 && (
        <p data-testid="devices-empty">
          {owner ? "This account owns no device yet." : "No device is registered yet."} Devices are registered with their own key (
          <code>npx triad device:register</code>), which never leaves the device.
        </p>
      )}
      {devices.value && devices.value.length > 0 && (
        <div className="table-wrap">
          <table data-testid="devices-table">
            <caption className="visually-hidden">Devices, their registry status and what the gateway last received</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Status</th>
                <th scope="col">Last reading</th>
                <th scope="col">Failure risk</th>
                {owner && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {devices.value.map(({ device, gateway, gatewayError, alert }) => (
                <tr key={device.device} data-testid={`device-row-${device.device}`}>
                  <td>
                    <Link to={`/devices/${device.device}`} data-testid={`device-link-${device.device}`}>
                      <code>{`${device.device.slice(0, 8)}…${device.device.slice(-6)}`}</code>
                    </Link>
                    <div className="muted">{device.sensorSchema}</div>
                  </td>
                  <td>
                    <Badge tone={statusTone(device)} testId={`device-status-${device.device}`}>
                      {device.status}
                      {device.adminHold ? " (admin hold)" : ""}
                    </Badge>
                  </td>
                  <td>
                    {gateway ? (
                      <>
                        <Time t={Number(gateway.lastTimestamp)} now={now} />
                        <div className="muted">
                          seq {gateway.lastSeq} · {gateway.readings} stored
                        </div>
                      </>
                    ) : gatewayError !== undefined ? (
                      <span className="muted">gateway unavailable</span>
                    ) : (
                      <span className="muted">none at the gateway</span>
                    )}
                  </td>
                  <td>
                    {alert ? (
                      <Badge tone={alert.state === "raised" ? "bad" : "ok"} testId={`device-alert-${device.device}`}>
                        {alert.state === "raised" ? `alert: ${(alert.riskBps / 100).toFixed(0)} %` : "cleared"}
                      </Badge>
                    ) : (
                      <span className="muted">no alert</span>
                    )}
                  </td>
                  {owner && (
                    <td>
                      {device.status === "Active" && (
                        <TxButton
                          label="Suspend"
                          className="secondary"
                          title={`Suspend device ${device.device}`}
                          description={
                            <p>
                              While suspended, its readings are refused by gateways and do not count as evidence; you can resume it at any
                              time.
                            </p>
                          }
                          run={async ({ contracts }) => (await (await contracts.registry.suspend(device.device)).wait())!}
                          estimateGas={({ contracts }) => contracts.registry.suspend.estimateGas(device.device)}
                          result={() => "The device is suspended."}
                          onDone={devices.reload}
                          testId={`device-suspend-${device.device}`}
                        />
                      )}
                      {device.status === "Suspended" && (
                        <TxButton
                          label="Resume"
                          className="secondary"
                          title={`Resume device ${device.device}`}
                          run={async ({ contracts }) => (await (await contracts.registry.resume(device.device)).wait())!}
                          estimateGas={({ contracts }) => contracts.registry.resume.estimateGas(device.device)}
                          result={() => "The device is active again."}
                          onDone={devices.reload}
                          testId={`device-resume-${device.device}`}
                        />
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {owner && gateways.value && (
        <>
          <h2>Gateways you authorised</h2>
          {gateways.value.length === 0 ? (
            <p className="muted">None: readings of your devices can be anchored only by you.</p>
          ) : (
            <ul className="plain" data-testid="gateways-list">
              {gateways.value.map((g) => (
                <li key={g.gateway}>
                  <Address value={g.gateway} /> since <Time t={g.since} now={now} />
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
