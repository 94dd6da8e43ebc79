import { ZeroAddress, getAddress } from "ethers";
import type { ClaimsInsurance, DeviceRegistry } from "@triad/contracts";
import { DeviceStatus, enumValue, type AnchorFacts, type EvidenceAnchor } from "@triad/sdk";

/**
 * What the chain says about the anchors of an evidence bundle, read in the browser: the same reads, in the same
 * order of rules, as the oracle's anchor reader (packages/oracle/src/daemon/lookups.ts) — the oracle package itself
 * is Node-only (worker threads, pino), so the app asks the same views through the wallet's provider:
 *
 * - fleet anchor: `fleetAnchorOf(gateway, root).anchoredAt`; at that time the device was Active (`statusAt`) and its
 *   owner (`ownerAt`) was the gateway or had authorised it (`gatewayAuthorisedAt`); the product accepts the gateway
 *   (`productAcceptsGateway`);
 * - device anchor: `anchorOf(device, root).anchoredAt`; the anchoring account from its `BatchAnchored` event, which
 *   the product must accept.
 *
 * The result feeds the SDK's `verifyEvidenceAnchoring`, which applies the timing rules.
 */

const ACTIVE = Number(enumValue(DeviceStatus, "Active"));

export async function readAnchorFacts(
  contracts: { registry: DeviceRegistry; claims: ClaimsInsurance },
  device: string,
  anchors: readonly EvidenceAnchor[],
  options: { productId?: bigint; fromBlock?: number } = {},
): Promise<AnchorFacts[]> {
  const { registry, claims } = contracts;
  const d = getAddress(device);
  const accepts = (gateway: string) =>
    options.productId === undefined ? Promise.resolve(undefined) : claims.productAcceptsGateway(options.productId, gateway);
  return Promise.all(
    anchors.map(async (a): Promise<AnchorFacts> => {
      if (a.kind === "fleet") {
        const gateway = getAddress(a.gateway);
        const { anchoredAt } = await registry.fleetAnchorOf(gateway, a.root);
        if (anchoredAt === 0n) return { anchoredAt, authorised: false, anchorer: gateway };
        const [status, owner] = await Promise.all([registry.statusAt(d, anchoredAt), registry.ownerAt(d, anchoredAt)]);
        let authorised = Number(status) === ACTIVE && owner !== ZeroAddress;
        if (authorised && getAddress(owner) !== gateway) authorised = await registry.gatewayAuthorisedAt(owner, gateway, anchoredAt);
        const accepted = authorised ? await accepts(gateway) : undefined;
        return { anchoredAt, authorised, accepted, anchorer: gateway };
      }
      const anchor = await registry.anchorOf(d, a.root);
      const anchoredAt = anchor.device === ZeroAddress ? 0n : anchor.anchoredAt;
      if (anchoredAt === 0n || options.productId === undefined) return { anchoredAt, authorised: anchoredAt !== 0n };
      const logs = await registry.queryFilter(registry.filters.BatchAnchored(d, a.root), options.fromBlock ?? 0);
      const by = logs.length > 0 ? getAddress(logs[0].args.by) : undefined;
      const accepted = by === undefined ? false : await accepts(by);
      return { anchoredAt, authorised: true, accepted, anchorer: by };
    }),
  );
}
