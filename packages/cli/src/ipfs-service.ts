/**
 * `triad ipfs serve`: a long-running IPFS node (Helia) on a folder, so that what `evidence:build --publish` and
 * `market:list --publish` wrote into it with `--ipfs-dir` can be fetched by CID by the oracles (ORACLE_IPFS_PEERS)
 * and by buyers. TCP only, no bootstrap list, no mDNS, no DHT: it serves its own blocks (Bitswap) to whoever dials it,
 * and fetches from the `--peers` it dials. Its peer id is kept in the folder, so its multiaddr survives restarts.
 */
import { parseArgs } from "node:util";
import { parseList, usage } from "./lib/common.ts";

const HELP = `Usage: triad ipfs serve [--dir <dir>] [--listen <multiaddrs>] [--peers <multiaddrs>]

Runs an IPFS node (Helia) on a folder until SIGINT/SIGTERM: it serves the blocks that commands wrote there with
--ipfs-dir (evidence:build --publish, market:list --publish) to the nodes that dial it, e.g. the oracles'
(ORACLE_IPFS_PEERS=<one of its multiaddrs>) and buyers' (market:access --ipfs-dir <dir> --ipfs-peers <multiaddr>).
TCP only; no bootstrap list, no mDNS, no DHT. Prints one JSON line {"peerId","multiaddrs","dir"} once it listens.

Options:
  --dir <dir>            the node's folder: blocks and peer key (default: $TRIAD_IPFS_DIR)
  --listen <multiaddrs>  comma-separated listen addresses (default: $TRIAD_IPFS_LISTEN, else /ip4/127.0.0.1/tcp/4101;
                         /ip4/0.0.0.0/tcp/4101 to be reached from other machines)
  --peers <multiaddrs>   comma-separated multiaddrs (…/p2p/<peer id>) of nodes to dial (default: $TRIAD_IPFS_PEERS)
  -h, --help
`;

/** The default listen address: a fixed port, so the multiaddr printed once stays valid. */
export const DEFAULT_IPFS_LISTEN = "/ip4/127.0.0.1/tcp/4101";

export interface IpfsServiceIo {
  stdout: { write(chunk: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Resolves when the node should stop (default: the first SIGINT or SIGTERM). */
  until?: Promise<unknown>;
}

/** Runs `triad ipfs <argv>`; resolves with the exit code once the node has stopped. */
export async function runIpfsCli(
  argv: readonly string[],
  io: IpfsServiceIo = { stdout: process.stdout, env: process.env },
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    io.stdout.write(HELP);
    return command ? 0 : 2;
  }
  if (command !== "serve") usage(`unknown command "ipfs ${command}" (commands: ipfs serve; see triad ipfs --help)`);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...rest],
      options: { dir: { type: "string" }, listen: { type: "string" }, peers: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    usage(`${(err as Error).message} (see triad ipfs serve --help)`);
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const dir = (values.dir as string | undefined) ?? (io.env.TRIAD_IPFS_DIR || undefined);
  if (!dir) usage("ipfs serve needs --dir <dir> (or $TRIAD_IPFS_DIR): the folder --ipfs-dir publishes into");
  const listen = parseList((values.listen as string | undefined) ?? (io.env.TRIAD_IPFS_LISTEN || DEFAULT_IPFS_LISTEN));
  const peers = parseList((values.peers as string | undefined) ?? io.env.TRIAD_IPFS_PEERS);
  const { openIpfs } = await import("@triad/sdk/node");
  const node = await openIpfs({ dir, listen, peers });
  try {
    const multiaddrs = node.multiaddrs();
    io.stdout.write(`${JSON.stringify({ peerId: multiaddrs[0]?.split("/p2p/")[1], multiaddrs, dir })}\n`);
    await (io.until ?? untilSignal());
  } finally {
    await node.close();
  }
  return 0;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
