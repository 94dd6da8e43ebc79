/**
 * What every stage of the daemon is given: the member's chain access, the model, the configuration and the clock.
 * Built once by `createOracle` (../daemon.ts); stages take it as their first parameter, so a test can hand in a real
 * local node and its own clock.
 */
import type { Provider, Signer } from "ethers";
import type { IpfsClient } from "@triad/sdk/node";
import type { OracleAddresses, OracleContracts, Rpc } from "../chain.ts";
import type { OracleConfig } from "../config.ts";
import type { OracleMetrics } from "../metrics.ts";
import type { OracleModel } from "../model/assessment.ts";

export interface DaemonDeps {
  config: OracleConfig;
  provider: Provider;
  /** The committee member's key, connected to `provider`. */
  signer: Signer;
  addresses: OracleAddresses;
  contracts: OracleContracts;
  model: OracleModel;
  /** Every RPC request goes through it (counted, retried). */
  rpc: Rpc;
  metrics: OracleMetrics;
  /** Evidence downloads (undefined: the global fetch). */
  fetch?: typeof fetch;
  /** ipfs:// evidence is read through it, verified against the CID (undefined: `config.evidence.ipfsGateway`, if any). */
  ipfs?: IpfsClient;
  /** Wall-clock milliseconds (checkpoint timestamps, the last tick's time). */
  now: () => number;
}
