/**
 * The daemon's IPFS node from its configuration (ORACLE_IPFS_DIR / _PEERS / _LISTEN, or ORACLE_IPFS_API): the client
 * ipfs:// evidence is read through, every block verified against its CID (`openIpfs` of `@triad/sdk/node`).
 */
import type { Logger } from "pino";
import type { IpfsClient } from "@triad/sdk/node";
import type { OracleConfig } from "./config.ts";

/** Opens the configured IPFS node (undefined when none is configured); the caller closes it after the daemon stops. */
export async function openConfiguredIpfs(config: Pick<OracleConfig, "ipfs">, logger: Logger): Promise<IpfsClient | undefined> {
  const node = config.ipfs;
  if (!node) return undefined;
  // Loaded only when configured: Helia and libp2p take most of a second to load.
  const { openIpfs } = await import("@triad/sdk/node");
  if (node.kind === "kubo") {
    logger.info({ api: node.apiUrl }, "ipfs:// evidence is read through the Kubo node's RPC API");
    return openIpfs({ apiUrl: node.apiUrl });
  }
  const client = await openIpfs({ dir: node.dir, peers: node.peers, listen: node.listen });
  logger.info(
    { dir: node.dir, multiaddrs: client.multiaddrs(), peers: node.peers },
    "IPFS node started (Helia, no bootstrap): ipfs:// evidence is read from it and its peers",
  );
  return client;
}
