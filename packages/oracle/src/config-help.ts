/**
 * One line of help per configuration variable, printed by `npm run oracle -- --help` (packages/oracle/README.md has the
 * same table). A test checks that every variable the config schema knows is here.
 */
export const CONFIG_HELP: Record<string, { default: string; meaning: string }> = {
  ORACLE_RPC_URL: { default: "— (required by run, audit)", meaning: "JSON-RPC endpoint: http, https, ws or wss" },
  ORACLE_CHAIN_ID: { default: "—", meaning: "expected chain id; refuses to start against another chain" },
  ORACLE_PRIVATE_KEY: { default: "—", meaning: "the member's key, 64 hex digits (or use the keystore)" },
  ORACLE_KEYSTORE_FILE: { default: "—", meaning: "encrypted JSON keystore of the member's key (not together with a private key)" },
  ORACLE_KEYSTORE_PASSWORD: { default: "—", meaning: "its password (required with the keystore)" },
  ORACLE_CLAIMS_ADDRESS: { default: "deployment record", meaning: "ClaimsInsurance" },
  ORACLE_REGISTRY_ADDRESS: { default: "deployment record", meaning: "DeviceRegistry (its EIP-712 domain signs the readings)" },
  ORACLE_COMMITTEE_ADDRESS: { default: "deployment record", meaning: "OracleCommittee" },
  TRIAD_DEPLOYMENTS_DIR: { default: "deployments/", meaning: "where <chainId>.json records are read when addresses are not set" },
  ORACLE_CONFIRMATIONS: {
    default: "2",
    meaning: "blocks a ClaimFiled must be buried under before it is assessed (0 on an automining dev node)",
  },
  ORACLE_POLL_INTERVAL_MS: { default: "2000", meaning: "sleep between scans when caught up (no sleep while confirmed blocks remain)" },
  ORACLE_START_BLOCK: { default: "record's startBlock, else 0", meaning: "first block to scan without a checkpoint" },
  ORACLE_CHECKPOINT_FILE: { default: "packages/oracle/.checkpoint-<chainId>-<member>.json", meaning: "the checkpoint" },
  ORACLE_EVIDENCE_SCHEMES: { default: "https", meaning: "allowed evidence URI schemes: http, https, ipfs" },
  ORACLE_EVIDENCE_HOSTS: {
    default: "* (any)",
    meaning:
      "allowed hosts: host (its scheme's default port only), host:port, host:* (any port) or *. Claimants choose the URI: list your storage hosts in production (SSRF)",
  },
  ORACLE_EVIDENCE_MAX_BYTES: {
    default: "1048576",
    meaning: "largest bundle, enforced while streaming (a lying Content-Length changes nothing)",
  },
  ORACLE_EVIDENCE_TIMEOUT_MS: { default: "10000", meaning: "deadline of one download attempt (connection + whole body)" },
  ORACLE_EVIDENCE_DEADLINE_MS: {
    default: "30000",
    meaning: "one claim's evidence time, all attempts and backoff (a slow URI delays only its own claim)",
  },
  ORACLE_EVIDENCE_RETRIES: { default: "2", meaning: "retries after a transient failure before rejecting (see Failure reasons)" },
  ORACLE_EVIDENCE_RETRY_DELAY_MS: { default: "500", meaning: "first retry delay; doubles per retry" },
  ORACLE_IPFS_GATEWAY: {
    default: "—",
    meaning: "trustless gateway for ipfs:// URIs when no IPFS node is configured (every block verified against its CID)",
  },
  ORACLE_IPFS_DIR: {
    default: "—",
    meaning: "in-process Helia node for ipfs:// evidence, blocks and peer key in this folder; no bootstrap, no DHT (allows ipfs)",
  },
  ORACLE_IPFS_PEERS: { default: "—", meaning: "multiaddrs with /p2p/<peer id> the Helia node dials, comma-separated" },
  ORACLE_IPFS_LISTEN: { default: "/ip4/127.0.0.1/tcp/0", meaning: "where the Helia node listens" },
  ORACLE_IPFS_API: { default: "—", meaning: "instead of ORACLE_IPFS_DIR: an external Kubo node's RPC API, e.g. http://127.0.0.1:5001" },
  ORACLE_BATCH_SIZE: { default: "20", meaning: "verdicts per transaction: 1 = submitVerdict, more = submitVerdicts" },
  ORACLE_BACKUP_DELAY_BLOCKS: {
    default: "3 (0 on an automining node)",
    meaning: "committee turns: blocks a backup member waits for the primaries before submitting its verdict (0 = no turns)",
  },
  ORACLE_CONCURRENCY: { default: "16", meaning: "downloads / lookups in flight" },
  ORACLE_VERIFY_WORKERS: { default: "one per core, ≤ 4", meaning: "worker threads verifying reading signatures (0 = main thread)" },
  ORACLE_LOG_BLOCK_RANGE: { default: "2000", meaning: "largest eth_getLogs range, and blocks scanned per tick" },
  ORACLE_METRICS_PORT: { default: "9464", meaning: "port of /healthz and /metrics; 0 = any free port; off = none" },
  ORACLE_METRICS_HOST: { default: "127.0.0.1", meaning: "bind address of that server" },
  ORACLE_HEALTH_MAX_LAG_BLOCKS: { default: "50", meaning: "/healthz is 503 beyond this lag" },
  ORACLE_HEALTH_MAX_TICK_AGE_MS: {
    default: "max(120000, 20 × poll interval)",
    meaning: "/healthz is 503 when no tick succeeded for this long (stuck detection by time)",
  },
  ORACLE_HEALTH_RPC_GRACE_MS: {
    default: "30000",
    meaning: "the chain counts as unreachable for /healthz only after failing this long (slow or flaky is not down)",
  },
  ORACLE_RPC_RETRIES: { default: "5", meaning: "retries of a failed RPC request (exponential backoff, ±20 % jitter)" },
  ORACLE_RPC_RETRY_BASE_MS: { default: "250", meaning: "first RPC retry delay" },
  ORACLE_RPC_TIMEOUT_MS: { default: "10000", meaning: "deadline of one RPC request; then it is retried as a transient failure" },
  ORACLE_TX_REPLACE_AFTER_MS: {
    default: "30000",
    meaning: "a verdict transaction without a receipt this long is replaced (same nonce, fees bumped) or sent again",
  },
  ORACLE_TX_FEE_BUMP_PERCENT: { default: "25", meaning: "fee bump per replacement, both maxFee and tip (min 10: geth's rule)" },
  ORACLE_TX_MAX_FEE_GWEI: { default: "1000", meaning: "cap of maxFeePerGas; at the cap a pending transaction is sent again, not bumped" },
  ORACLE_SHUTDOWN_TIMEOUT_MS: { default: "15000", meaning: "stop (SIGTERM) ends within this, whatever the chain does" },
  ORACLE_TFJS_BACKEND: {
    default: "auto",
    meaning: "auto (tfjs-node → wasm → cpu), tfjs-node, wasm, cpu. Members should use the same backend so they compute the same scoreBps",
  },
  ORACLE_MODEL_DIR: { default: "packages/oracle/model", meaning: "model artifacts (model.json + weights; their hash must be approved)" },
  ORACLE_LOG_LEVEL: { default: "info", meaning: "fatal, error, warn, info, debug, trace, silent" },
};

/** The variables as an aligned text block for --help. */
export function configHelpText(): string {
  const width = Math.max(...Object.keys(CONFIG_HELP).map((k) => k.length));
  return Object.entries(CONFIG_HELP)
    .map(([name, h]) => `  ${name.padEnd(width)}  ${h.meaning} (default: ${h.default})`)
    .join("\n");
}
