import type { IpfsClient } from "@triad/sdk/node";
import type { OptionSpec } from "./command.ts";
import { fail, parseList, usage } from "./common.ts";
import type { Context } from "./context.ts";

/**
 * How commands reach IPFS (docs/protocol.md §2, content addressing): a folder an in-process Helia node keeps its
 * blocks in (`--ipfs-dir`: publishing writes there, offline, for `triad ipfs serve` to serve; reading dials
 * `--ipfs-peers`), an external Kubo node (`--ipfs-api`), or, to read only, a trustless gateway (`--ipfs-gateway`).
 * Each option falls back to its `$TRIAD_IPFS_*` variable. Whatever the source, what is read is verified against its CID.
 */

export interface IpfsArgs {
  ipfsDir?: string;
  ipfsPeers?: string;
  ipfsApi?: string;
  ipfsGateway?: string;
}

/** The options of a command that publishes to IPFS. */
export const IPFS_PUBLISH_OPTIONS: OptionSpec[] = [
  {
    name: "ipfs-dir",
    value: "<dir>",
    description:
      "Publish into this IPFS folder (blocks of an in-process Helia node); triad ipfs serve --dir <dir> serves it to others (default: $TRIAD_IPFS_DIR)",
  },
  {
    name: "ipfs-api",
    value: "<url>",
    description: "IPFS through a Kubo node's RPC API, e.g. http://127.0.0.1:5001 (default: $TRIAD_IPFS_API)",
  },
];

/** The options of a command that reads from IPFS: a folder and the peers its node dials, a Kubo node or a gateway. */
export const IPFS_READ_OPTIONS: OptionSpec[] = [
  {
    name: "ipfs-dir",
    value: "<dir>",
    description: "Read through an in-process IPFS node (Helia) with its blocks in this folder (default: $TRIAD_IPFS_DIR)",
  },
  {
    name: "ipfs-peers",
    value: "<multiaddrs>",
    description:
      "With --ipfs-dir: comma-separated multiaddrs (…/p2p/<peer id>) of the nodes to fetch from, e.g. the seller's triad ipfs serve (default: $TRIAD_IPFS_PEERS)",
  },
  IPFS_PUBLISH_OPTIONS[1],
  {
    name: "ipfs-gateway",
    value: "<url>",
    description: "Read ipfs:// content through this trustless gateway, e.g. http://127.0.0.1:8080 (default: $TRIAD_IPFS_GATEWAY)",
  },
];

/** Largest file read from IPFS by default (a listing's encrypted file). */
export const IPFS_MAX_READ_BYTES = 256 * 1024 * 1024;

/** Where a command reaches IPFS, as the options (else `$TRIAD_IPFS_*`) name it. */
export type IpfsSource = { dir: string; peers: string[] } | { apiUrl: string } | { gatewayUrl: string };

/**
 * The IPFS source the options (else `$TRIAD_IPFS_*`) name, checked (a usage error when none or several are named);
 * commands call it before any work, so a missing option is said first.
 */
export function ipfsSource(ctx: Context, args: IpfsArgs, purpose: "publish" | "read"): IpfsSource {
  const env = ctx.env;
  const pick = (value: string | undefined, variable: string) => (value !== undefined ? value : env[variable] || undefined);
  const dir = pick(args.ipfsDir, "TRIAD_IPFS_DIR");
  const api = pick(args.ipfsApi, "TRIAD_IPFS_API");
  const gateway = purpose === "read" ? pick(args.ipfsGateway, "TRIAD_IPFS_GATEWAY") : undefined;
  // Publishing writes into the folder offline (Bitswap is pull-only: dialling peers would push nothing).
  const peers = purpose === "read" ? parseList(pick(args.ipfsPeers, "TRIAD_IPFS_PEERS")) : [];
  const named = [dir && "--ipfs-dir", api && "--ipfs-api", gateway && "--ipfs-gateway"].filter(Boolean);
  if (named.length > 1) usage(`name one IPFS source, not ${named.join(" and ")} (options or $TRIAD_IPFS_* variables)`);
  if (named.length === 0) {
    usage(
      purpose === "publish"
        ? "publishing to IPFS needs --ipfs-dir <dir> (an in-process node) or --ipfs-api <url> (a Kubo node), or $TRIAD_IPFS_DIR / $TRIAD_IPFS_API"
        : "reading from IPFS needs --ipfs-dir <dir> (with --ipfs-peers), --ipfs-api <url> or --ipfs-gateway <url> (or their $TRIAD_IPFS_* variables)",
    );
  }
  if (peers.length > 0 && !dir) usage("--ipfs-peers needs --ipfs-dir (the in-process node dials them)");
  for (const [url, option] of [
    [api, "--ipfs-api"],
    [gateway, "--ipfs-gateway"],
  ] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s/]+/i.test(url)) fail(`${option} must be an http:// or https:// URL, got "${url}"`);
  }
  if (dir) return { dir, peers };
  if (api) return { apiUrl: api };
  return { gatewayUrl: gateway! };
}

/** A source in messages. */
export function describeIpfsSource(source: IpfsSource): string {
  if ("dir" in source) return `the IPFS node in ${source.dir}`;
  if ("apiUrl" in source) return `the Kubo node at ${source.apiUrl}`;
  return `the IPFS gateway at ${source.gatewayUrl}`;
}

/** Opens a client of `source`; close it when done. */
export async function openCliIpfs(ctx: Context, source: IpfsSource): Promise<IpfsClient> {
  const { openIpfs } = await import("@triad/sdk/node");
  // A folder without peers needs no network: blocks are written to / read from it (a `triad ipfs serve` on the same
  // folder serves them to others).
  return ctx.step(`Opening ${describeIpfsSource(source)}`, () =>
    openIpfs("dir" in source ? { ...source, offline: source.peers.length === 0 } : source),
  );
}

/** Publishes `bytes` to `source` and returns their CID; the client is closed after. */
export async function publishToIpfs(ctx: Context, source: IpfsSource, bytes: Uint8Array, what: string): Promise<string> {
  const ipfs = await openCliIpfs(ctx, source);
  try {
    return await ctx.step(`Publishing ${what} to ${describeIpfsSource(source)}`, () => ipfs.add(bytes));
  } finally {
    await ipfs.close();
  }
}

/** The bytes of `uri` (ipfs://<cid>) from `source`, verified against the CID. */
export async function readFromIpfs(ctx: Context, source: IpfsSource, uri: string, maxBytes = IPFS_MAX_READ_BYTES): Promise<Uint8Array> {
  const ipfs = await openCliIpfs(ctx, source);
  try {
    return await ctx.step(`Fetching ${uri} from IPFS`, () => ipfs.get(uri, { maxBytes, timeoutMs: 120_000 }));
  } finally {
    await ipfs.close();
  }
}
